"""Hostile input: schemathesis drives every operation of /api/v1/openapi.json, in-process against
the WSGI app, with and without a token, on SQLite and PostgreSQL. No answer may be a server error
or contradict the document (status code, content type, body schema).

The number of examples is bounded and the generation derandomized, so a run is repeatable and
stays well under a minute per backend; a failure prints the operation and the reproducing request.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

from models import db

EXAMPLES_PER_OPERATION = 12
CHECK_NAMES = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
               "response_schema_conformance", "response_headers_conformance")


@pytest.fixture
def calendar(create_partner, create_quartier, create_place, create_event):
    """A little real data, so that generated requests also meet existing rows, not only 404s."""
    quartier = create_quartier()
    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles", quartier=quartier.code)
    create_event(place, [partner])
    return partner


def _run_operation(operation, mode, headers, checks):
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=True)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=checks)
        finally:
            # Tests share one app context across requests; in service each request ends its own
            # session, so a failed one must not leak into the next here either.
            db.session.remove()

    run()


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "coordinator"])
def test_no_api_operation_answers_a_server_error_or_contradicts_its_document(app, calendar, token_for,
                                                                          with_token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = token_for() if with_token else {}
    checks = [check for check in CHECKS.get_all() if check.__name__ in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every operation, not a few that happened to load
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run_operation(operation, mode, headers, checks)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameter, or free text only): the positive run covers it
            except (Exception, BaseExceptionGroup) as failure:  # collected, then reported all at once
                failures.append(f"{operation.label} [{mode.value}]: {str(failure)[:1500]}")
    assert not failures, "\n\n".join(failures)

// Expands an iCalendar body (stdin) with ical.js, the reader of Thunderbird and many web calendars.
// Usage: node occurrences.cjs <window start epoch> <window end epoch>
// Prints a JSON list of [start epoch, end epoch, cancelled, start floating, end floating] for the
// occurrences overlapping the window (floating: a date or a time without zone, counted as UTC).
// Every VTIMEZONE of the file is registered first, as a calendar client does; overrides
// (RECURRENCE-ID) are passed to their master explicitly with strictExceptions, so an override
// that matches no date of the series is not silently added.
"use strict";
const ICAL = require("./ical.js/ical.es5.cjs");

const [lo, hi] = process.argv.slice(2).map(Number);
const text = require("fs").readFileSync(0, "utf8");
const found = [];
const parsed = ICAL.parse(text);
// One VCALENDAR parses to one jCal component; several (they may follow each other in a file) to a list.
const roots = typeof parsed[0] === "string" ? [parsed] : parsed;
// An override may move a later date into the window: look a year past it before stopping.
const horizon = hi + 366 * 86400;
for (const root of roots) {
  const calendar = new ICAL.Component(root);
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  const masters = new Map();
  const overrides = new Map();
  for (const vevent of calendar.getAllSubcomponents("vevent")) {
    const uid = vevent.getFirstPropertyValue("uid");
    if (vevent.hasProperty("recurrence-id")) {
      if (!overrides.has(uid)) overrides.set(uid, []);
      overrides.get(uid).push(vevent);
    } else {
      masters.set(uid, vevent);
    }
  }
  // An occurrence whose series is not in the file (an invitation to one date of it): shown on its
  // own, as calendar clients show it.
  for (const [uid, items] of overrides) {
    if (!masters.has(uid) && items.length === 1) masters.set(uid, items[0]);
  }
  const cancelled = (component) => String(component.getFirstPropertyValue("status") || "").toUpperCase() === "CANCELLED";
  for (const [uid, master] of masters) {
    const event = new ICAL.Event(master, { strictExceptions: true, exceptions: overrides.get(uid) || [] });
    const add = (start, end, item) => {
      const s = start.toUnixTime();
      const e = end.toUnixTime();
      // Floating times and dates have no zone: ical.js counts them as UTC; the reader in Python
      // puts them on the wall clock of the zone it is told (the flags say which are floating).
      const floating = (time) => time.isDate || !time.zone || time.zone.tzid === "floating";
      if (e > lo && s < hi) found.push([s, e, cancelled(item) || cancelled(master), floating(start), floating(end)]);
    };
    if (!event.isRecurring()) {
      add(event.startDate, event.endDate, master);
      continue;
    }
    const iterator = event.iterator();
    for (let next = iterator.next(); next; next = iterator.next()) {
      const details = event.getOccurrenceDetails(next);
      if (next.toUnixTime() >= horizon) break;
      add(details.startDate, details.endDate, details.item.component);
    }
  }
}
process.stdout.write(JSON.stringify(found));

"""The operations on the models: plain functions that take and return model objects, add and
flush, never commit and never touch a request. One module per aggregate of `models/`."""

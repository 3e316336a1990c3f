"""Property tests of the readers and the data protocol: whatever a user feeds them, a table
loads with its documented semantics or is refused with one line (`InputError`), never another
exception. A short profile here; `python -m experiments.fuzz_readers` runs 10,000 examples."""

from hypothesis import HealthCheck, given, settings

from tests.reader_strategies import file_loads_or_refuses, files, loads_or_refuses, tables

SHORT = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


@SHORT
@given(tables())
def test_any_frame_loads_as_documented_or_is_refused_in_one_line(case):
    frame, options = case
    loads_or_refuses(frame, options)


@SHORT
@given(files())
def test_any_file_loads_as_documented_or_is_refused_in_one_line(case):
    content, options = case
    file_loads_or_refuses(content, options)

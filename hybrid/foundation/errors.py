"""The one error type a user's input can raise."""


class InputError(ValueError):
    """Bad input from the user: a file, a column, a flag.

    Its message is one line that says what is wrong and what to do; the CLI prints it to stderr
    and exits with status 2 before anything is written.
    """


def cannot_forecast(label: str, data_name: str, exc: Exception) -> InputError:
    """A model that cannot forecast the data (a season longer than the history it gets, too few
    rows): the user's to change, said as such; an `InputError` already says what to do, as it is."""
    if isinstance(exc, InputError):
        return exc
    return InputError(f"{label} cannot forecast {data_name}: {str(exc).splitlines()[0]}; leave it out of the models, "
                      "or give a longer look-back")

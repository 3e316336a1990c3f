"""The one error type a user's input can raise."""


class InputError(ValueError):
    """Bad input from the user: a file, a column, a flag.

    Its message is one line that says what is wrong and what to do; the CLI prints it to stderr
    and exits with status 2 before anything is written.
    """

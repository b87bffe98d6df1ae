"""The runner's errors: one line a person can act on (the CLI prints it and exits 2 or 1)."""


class NotebookError(RuntimeError):
    """A notebook that cannot run (no such notebook, a bad parameters cell) or that failed (its cell named)."""


class ParameterError(NotebookError):
    """A notebook parameter whose value does not fit the type declared in the `parameters` cell."""

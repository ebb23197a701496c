"""Checks shared by every free-text field the API accepts."""

# The same rules as documentation for the OpenAPI schema (ECMA-262 regexes): no NUL anywhere,
# and a name needs one character that survives trimming.
NO_NUL_PATTERN = "^[^\\u0000]*$"
NAME_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def reject_unstorable_text(value: str) -> str:
    """Refuse text that cannot be stored or encoded, keep everything else verbatim.

    PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (valid in a JSON string
    escape) cannot be encoded as UTF-8. Other control characters are valid data.
    """
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value

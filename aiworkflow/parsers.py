"""The API's JSON parser: JSON as DRF reads it, without NUL characters.

PostgreSQL stores no NUL (\\u0000) in text or jsonb, so a definition, trigger config or sample
payload carrying one would fail at the database, past every check: it is refused at the door
with a 400 instead.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_nul(value) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NulFreeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _has_nul(data):
            raise ParseError("The body holds a NUL character (\\u0000), which cannot be stored.")
        return data

"""What the server writes to its log is escaped text: one record is one line, whatever a
client put in a path or header (a %0A cannot forge a line, an ESC cannot reach a terminal)."""

from __future__ import annotations

import logging


def escape(text: str) -> str:
    """Printable ASCII stays; everything else (controls, DEL, C1, line and paragraph
    separators, any other non-ASCII) becomes a backslash escape, and a backslash itself is
    doubled, so a client's literal "\\x0a" never reads as an escaped line break."""
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


#: The `extra` key of a record whose arguments are already escaped (see EscapingFormatter).
ESCAPED = "minga_escaped"


class EscapingFormatter(logging.Formatter):
    """A formatter whose message is escaped; a traceback keeps its line breaks, each of its
    lines escaped (tracebacks come from the server's own code, never a client's bytes)."""

    def format(self, record: logging.LogRecord) -> str:
        # A record whose text fields were escaped where it was made (the access log) is not
        # escaped twice: a doubled backslash would double again.
        message = record.getMessage()
        record.message = message if getattr(record, ESCAPED, False) else escape(message)
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + "\n".join(escape(line) for line in record.exc_text.splitlines())
        if record.stack_info:
            text += "\n" + "\n".join(escape(line) for line in record.stack_info.splitlines())
        return text

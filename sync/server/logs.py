"""What the server writes to its log is escaped text: one record is one line, whatever a
client put in a path or header (a %0A cannot forge a line, an ESC cannot reach a terminal)."""

from __future__ import annotations

import logging


def escape(text: str) -> str:
    """Printable ASCII stays; everything else (controls, DEL, C1, line and paragraph
    separators, any other non-ASCII) becomes a backslash escape."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


class EscapingFormatter(logging.Formatter):
    """A formatter whose message is escaped; a traceback keeps its line breaks, each of its
    lines escaped (tracebacks come from the server's own code, never a client's bytes)."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape(record.getMessage())
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

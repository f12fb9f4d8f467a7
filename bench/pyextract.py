#!/usr/bin/env python3
"""The peer of bench/run.sh: a plain Python extractor over a Maildir.

It does only extraction: read each message with the standard library's
mailbox and email packages (charsets, quoted-printable, base64 decoded),
and find ngrok error codes with one regular expression over every text
part. No storing, no routing, no actions.
"""
import email.policy
import mailbox
import re
import sys

CODE = re.compile(r"(?i)err(?:\\_|_|&#95;|[ -])ngrok(?:\\_|_|&#95;|[ -])(\d+)|ngrok error:? ?#?(\d+)")


def texts(msg):
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        try:
            yield part.get_content()
        except Exception:  # noqa: BLE001 - a broken part is skipped, as a simple script would
            payload = part.get_payload(decode=True) or b""
            yield payload.decode("utf-8", "replace")


def main(path):
    box = mailbox.Maildir(path, factory=None, create=False)
    messages = codes = 0
    for key in box.iterkeys():
        with box.get_file(key) as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        messages += 1
        found = set()
        for text in texts(msg):
            for m in CODE.finditer(text):
                found.add(m.group(1) or m.group(2))
        codes += len(found)
    print(f"{messages} messages, {codes} codes")


if __name__ == "__main__":
    main(sys.argv[1])

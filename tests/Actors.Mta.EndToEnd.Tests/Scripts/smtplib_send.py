#!/usr/bin/env python3
"""Send one message file with Python's smtplib and print the outcome as JSON.

Used by the end-to-end tests as an independent SMTP client. Exit codes: 0 sent (some recipients may have been
refused, see "refused"), 2 every recipient refused, 3 the server rejected MAIL or DATA, 4 another SMTP error.
The SMTP dialogue is written to stderr.
"""
import argparse
import json
import smtplib
import sys


def text(reply):
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="SMTP port on 127.0.0.1")
    parser.add_argument("--sender", required=True, help="envelope sender (MAIL FROM)")
    parser.add_argument("--recipient", action="append", required=True, help="envelope recipient, repeatable")
    parser.add_argument("--mail-option", action="append", default=[], help="MAIL FROM parameter such as SMTPUTF8")
    parser.add_argument("--file", required=True, help="message file with CRLF line endings")
    args = parser.parse_args()

    with open(args.file, "rb") as f:
        message = f.read()

    try:
        with smtplib.SMTP("127.0.0.1", args.port, local_hostname="python.e2e.test", timeout=120) as client:
            client.set_debuglevel(1)
            # sendmail sends bytes as they are, apart from dot-stuffing.
            refused = client.sendmail(args.sender, args.recipient, message, mail_options=args.mail_option)
    except smtplib.SMTPRecipientsRefused as e:
        print(json.dumps({"result": "recipients-refused",
                          "refused": {r: [c, text(m)] for r, (c, m) in e.recipients.items()}}))
        return 2
    except smtplib.SMTPResponseException as e:
        print(json.dumps({"result": "rejected", "code": e.smtp_code, "message": text(e.smtp_error)}))
        return 3
    except smtplib.SMTPException as e:
        print(json.dumps({"result": "error", "message": str(e)}))
        return 4

    print(json.dumps({"result": "sent", "refused": {r: [c, text(m)] for r, (c, m) in refused.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

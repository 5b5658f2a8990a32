# SPDX-License-Identifier: Apache-2.0
"""Signs requests with botocore's SigV4Auth for test_sigv4's cross-check.

Usage: sigv4_botocore.py FILE. Each line of FILE is one request, fields
separated by spaces, each hex-encoded UTF-8 (an empty field is "-"):
  method url region service epoch access-key secret token body
  [header-name header-value]...
Prints one line per request: the canonical request, the string to sign and
the Authorization header, each hex-encoded, separated by spaces.
Exits 3 when botocore cannot be imported.
"""
import datetime
import sys

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:
    print(f"sigv4_botocore: botocore not importable: {e}", file=sys.stderr)
    sys.exit(3)


def unhex(field):
    return b"" if field == "-" else bytes.fromhex(field)


class RecordingAuth(botocore.auth.SigV4Auth):
    """botocore's signer, keeping the intermediate strings."""

    def canonical_request(self, request):
        self.creq = super().canonical_request(request)
        return self.creq

    def string_to_sign(self, request, canonical_request):
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts


def sign(fields):
    method, url, region, service = (unhex(f).decode() for f in fields[:4])
    epoch = int(unhex(fields[4]).decode())
    key, secret = unhex(fields[5]).decode(), unhex(fields[6]).decode()
    token = unhex(fields[7]).decode() or None
    body = unhex(fields[8])
    headers = []
    for i in range(9, len(fields), 2):
        headers.append((unhex(fields[i]).decode(),
                        unhex(fields[i + 1]).decode()))
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        # an email.message.Message: assignment appends, so repeated names
        # stay repeated, as on the wire
        request.headers[name] = value
    auth = RecordingAuth(Credentials(key, secret, token), service, region)
    orig = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = (
        lambda remove_tzinfo=True: when.replace(tzinfo=None)
        if remove_tzinfo else when)
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = orig
    return (auth.creq, auth.sts, request.headers["Authorization"])


def main():
    with open(sys.argv[1], encoding="ascii") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            out = sign(fields)
            print(" ".join(s.encode().hex() or "-" for s in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

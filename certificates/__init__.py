"""Carbon-neutrality-witness (碳中和见证) certificates: the document, its commitments, issuing,
revoking and verifying. The format is specified in docs/certificate-format.md."""

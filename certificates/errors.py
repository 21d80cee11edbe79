"""The certificate service's refusals: each message names the problem and the fix."""


class ServiceError(Exception):
    pass

"""Every exception CCM raises on purpose, in one place.

The hierarchy::

    CCMError                      base of everything below; ``str(exc)`` is one line
    ├── ConfigError               a config file or environment variable is invalid
    ├── HubError                  the hub could not do what was asked
    │   ├── HubUnavailable        the hub cannot be reached (retry later; webhook → 503)
    │   ├── HubURLError           a hub URL that names no known adapter or is malformed
    │   ├── NotFound              no such task / host / approval
    │   ├── ConflictError         optimistic concurrency: the row changed under you
    │   ├── LeaseLost             the caller no longer holds the task's lease
    │   └── SchemaError           the database schema is missing or too old (run ``ccm db migrate``)
    ├── DomainError               a rule of the domain was broken
    │   ├── IllegalTransition     a task state change the life cycle does not allow
    │   └── InvalidDecision       an approve/reject/escalate that does not fit the task's state
    ├── PayloadError              an alert payload that cannot be read (webhook → 4xx + reason)
    └── FleetError                the fleet (inventory, SSH) could not do what was asked
        ├── InventoryError        an inventory file cannot be read: file, line and reason
        ├── HostKeyError          a host's SSH key is unknown or changed (``ccm fleet trust``)
        └── SSHError              a host cannot be reached or refused us
            ├── LoginRefused      the host refused every key offered (or there was none)
            └── NoCommonAlgorithm the host and CCM share no key exchange or cipher

Each carries a ``hint``: what the user should do next, for the command line to print.
"""

from __future__ import annotations


class CCMError(Exception):
    """Base class of CCM's own errors. ``hint`` says what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(CCMError):
    """A config file or ``CCM_*`` environment variable is invalid."""

    hint = "fix the value named above in the config file or environment"


class HubError(CCMError):
    """The hub could not do what was asked."""


class HubUnavailable(HubError):
    """The hub cannot be reached right now; retrying later may succeed."""

    hint = "check that the database is running and the --hub URL is right"


class HubURLError(HubError):
    """The hub URL names no known adapter or is malformed."""

    hint = ("use sqlite:///PATH or postgresql://USER@HOST/DB (for Supabase, the project's "
            "database connection string)")


class NotFound(HubError):
    """No such task, host, approval or notification."""


class ConflictError(HubError):
    """The row changed since it was read (optimistic concurrency): re-read and retry."""


class LeaseLost(HubError):
    """The caller no longer holds the task's lease (it expired and another owner took it)."""


class SchemaError(HubError):
    """The hub's schema is missing or older than this CCM."""

    hint = "run `ccm db migrate` against this hub"


class DomainError(CCMError):
    """A rule of the domain was broken."""


class IllegalTransition(DomainError):
    """A task state change the life cycle does not allow."""


class InvalidDecision(DomainError):
    """An approve / reject / escalate that does not fit the task's current state."""


class PayloadError(CCMError):
    """An alert payload that cannot be read; ``status`` is the HTTP answer (400/415/422)."""

    def __init__(self, message: str, *, status: int = 400, reason: str = "malformed") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class FleetError(CCMError):
    """The fleet (inventory, SSH connections) could not do what was asked."""


class InventoryError(FleetError):
    """An inventory file cannot be read, or a host pattern names nothing.

    The message is one line: ``FILE:LINE: reason`` when the error is in a file.
    """

    hint = "fix the inventory file at the line named above, then check with `ccm fleet list`"


class HostKeyError(FleetError):
    """A host's SSH key is not in known_hosts, or differs from the one recorded.

    ``host`` is the inventory name, ``changed`` tells the two cases apart.
    """

    def __init__(
        self, message: str, *, host: str = "", changed: bool = False, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.changed = changed


class SSHError(FleetError):
    """A host cannot be reached, refused the login, or dropped the connection."""

    hint = "check the host's address, port and user in the inventory (`ccm fleet list`)"


class LoginRefused(SSHError):
    """The host answered but accepted none of the keys offered, or none could be offered.

    The message names what was offered (the inventory's identity files, the
    ssh-agent, the default keys in ``~/.ssh``), so the cause is visible at 2 AM.
    """

    hint = ("load the key into ssh-agent (ssh-add) where ccm runs, or set identity_file / "
            "ansible_ssh_private_key_file for this host; check the host's authorized_keys")


class NoCommonAlgorithm(SSHError):
    """The host answered but accepts no key exchange algorithm or cipher CCM offers.

    The message quotes what each side offered; the remedy is CCM's ``[ssh]`` settings
    (or the host's ``sshd_config``). Retrying cannot help, so it is not retried.
    """

    hint = ("offer one it accepts: [ssh] kex_algs / ciphers in CCM's config for the fleet, "
            "or the host's own (kex_algs / ciphers in the inventory, KexAlgorithms / Ciphers "
            "in its ~/.ssh/config block)")

"""The registry's pure domain rules in one import.

Everything here is I/O free. The pieces live in small modules:

* :mod:`services.registry.errors` – ``RegistryError`` and Service-Center's error codes;
* :mod:`services.registry.validation` – field rules (regexes, lengths, enums) and defaults;
* :mod:`services.registry.version_rules` – version keys and ``latest`` / ``x+`` / ``a-b`` rules;
* :mod:`services.registry.health` – health-check defaults, lease TTL, :class:`Lease`;
* :mod:`services.registry.revision` – ``X-Resource-Revision`` and the 304 protocol;
* :mod:`services.registry.identity` – service/instance ids and timestamps;
* :mod:`services.registry.config_center` – ``dimensionsInfo`` and ``keyFilter``.

See docs/registry-behaviour.md for the behaviour the HTTP edge and the workers must follow.
"""
from __future__ import annotations

from services.registry.config_center import *  # noqa: F401,F403
from services.registry.config_center import __all__ as _cc_all
from services.registry.errors import *  # noqa: F401,F403
from services.registry.errors import __all__ as _err_all
from services.registry.health import *  # noqa: F401,F403
from services.registry.health import __all__ as _health_all
from services.registry.identity import *  # noqa: F401,F403
from services.registry.identity import __all__ as _id_all
from services.registry.revision import *  # noqa: F401,F403
from services.registry.revision import __all__ as _rev_all
from services.registry.validation import *  # noqa: F401,F403
from services.registry.validation import __all__ as _val_all
from services.registry.version_rules import *  # noqa: F401,F403
from services.registry.version_rules import __all__ as _ver_all

__all__ = [*_err_all, *_val_all, *_ver_all, *_health_all, *_rev_all, *_id_all, *_cc_all]

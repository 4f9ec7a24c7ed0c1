"""The metadata catalogue: runtimes, flavors and templates a component can use.

Values follow the ServiceStage v2 reference and the enumerations of the official SDK
(RuntimeType, FlavorId, Template)."""

from __future__ import annotations

import re

from services.contracts.metadata import FlavorView, RuntimeTypeView, TemplateView


def _runtime(type_name: str, display_name: str, port: int, description: str) -> RuntimeTypeView:
    return RuntimeTypeView(type_name=type_name, display_name=display_name, container_default_port=port, type_desc=description)


def _flavor(label: str, storage: str, cpu: str, memory: str) -> FlavorView:
    """A catalogue flavor, LABEL-<storage>:<cpu>C:<memory>, whose request equals its limit."""
    return FlavorView(
        flavor_id=f"{label.upper()}-{storage}:{cpu}C:{memory}",
        storage_size=storage,
        num_cpu=cpu,
        num_cpu_init=cpu,
        memory_size=memory,
        memory_size_init=memory,
        label=label,
        custom=False,
    )


def _template(name: str, description: str, repo_url: str, runtime: str) -> TemplateView:
    return TemplateView(template_name=name, template_desc=description, source_type="template", source_repo_url=repo_url, runtime=runtime)


RUNTIMES: tuple[RuntimeTypeView, ...] = (
    _runtime("Java8", "Java 8", 8080, "OpenJDK 8 runtime for executable JAR packages (Spring Boot, ServiceComb Java Chassis)."),
    _runtime("Tomcat8", "Tomcat 8", 8080, "Apache Tomcat 8 on OpenJDK 8 for WAR packages."),
    _runtime("Php7", "PHP 7", 80, "PHP 7 with Apache httpd."),
    _runtime("Nodejs8", "Node.js 8", 3000, "Node.js 8 runtime for npm packages."),
    _runtime("Python3", "Python 3", 8000, "Python 3 runtime for WSGI/ASGI applications."),
    _runtime("Docker", "Docker", 80, "Any container image from a registry (SWR or compatible)."),
    _runtime("Custom", "Custom", 8080, "A user-defined runtime: bring your own image and start command."),
)

FLAVORS: tuple[FlavorView, ...] = (
    _flavor("micro", "5G", "0.5", "1G"),
    _flavor("small", "10G", "1.0", "2G"),
    _flavor("standard", "30G", "2.0", "4G"),
    _flavor("large", "50G", "4.0", "8G"),
    _flavor("xlarge", "100G", "4.0", "16G"),
    # custom: the id is a pattern (see parse_custom_flavor)
    FlavorView(
        flavor_id="CUSTOM-XG:X-X:X-X",
        storage_size="XG",
        num_cpu="X",
        num_cpu_init="X",
        memory_size="X",
        memory_size_init="X",
        label="custom",
        custom=True,
    ),
)

TEMPLATES: tuple[TemplateView, ...] = (
    _template("wordpress", "WordPress blog on PHP 7 with a MySQL database.", "https://github.com/WordPress/WordPress.git", "Php7"),
    _template("magento", "Magento e-commerce storefront on PHP 7.", "https://github.com/magento/magento2.git", "Php7"),
    _template("mbaas", "Mobile backend as a service on Node.js 8.", "https://github.com/parse-community/parse-server.git", "Nodejs8"),
)

RUNTIME_NAMES = frozenset(r.type_name for r in RUNTIMES)
CATALOGUE_FLAVOR_IDS = frozenset(f.flavor_id for f in FLAVORS if not f.custom)

# Custom flavors. The v2 reference ("Creating an Application Component Instance") documents
# CUSTOM-xxG:xxm-xxm:xxGi-xxGi: storage (reserved, a fixed number), then the maximum and minimum
# CPU in millicores, then the maximum and minimum memory, e.g. CUSTOM-10G:250m-250m:0.5Gi-0.5Gi.
# Older pages (and clients written against them) give the CPU in cores, CUSTOM-10G:0.5C-0.25C:1.6Gi-0.8Gi;
# both are accepted. Memory may also be given in Mi. The first value of each pair is the limit,
# the second the request, and a request may not exceed its limit.
_NUM = r"\d{1,6}(?:\.\d{1,3})?"
_CUSTOM_FLAVOR = re.compile(
    rf"^CUSTOM-(?P<storage>\d{{1,5}})G:(?P<cpu>{_NUM})(?P<cpu_unit>m|C)-(?P<cpu_init>{_NUM})(?P<cpu_init_unit>m|C):"
    rf"(?P<mem>{_NUM})(?P<mem_unit>Gi|Mi)-(?P<mem_init>{_NUM})(?P<mem_init_unit>Gi|Mi)$"
)
# Upper bounds that keep a typo from passing as a flavor: 256 cores, 1 TiB of memory.
_MAX_CORES = 256.0
_MAX_MEMORY_GI = 1024.0


def _cores(value: str, unit: str) -> float:
    return float(value) / 1000 if unit == "m" else float(value)


def _gibibytes(value: str, unit: str) -> float:
    return float(value) / 1024 if unit == "Mi" else float(value)


def parse_custom_flavor(flavor_id: str) -> dict[str, float] | None:
    """``{"storage_gb", "cpu", "cpu_request", "memory_gi", "memory_request_gi"}`` of a valid
    CUSTOM-... flavor (CPU in cores), or None."""
    m = _CUSTOM_FLAVOR.match(flavor_id)
    if not m:
        return None
    cpu, cpu_init = _cores(m["cpu"], m["cpu_unit"]), _cores(m["cpu_init"], m["cpu_init_unit"])
    mem, mem_init = _gibibytes(m["mem"], m["mem_unit"]), _gibibytes(m["mem_init"], m["mem_init_unit"])
    if not (0 < cpu_init <= cpu <= _MAX_CORES and 0 < mem_init <= mem <= _MAX_MEMORY_GI):
        return None
    return {"storage_gb": int(m["storage"]), "cpu": cpu, "cpu_request": cpu_init, "memory_gi": mem, "memory_request_gi": mem_init}


def is_valid_flavor(flavor_id: str) -> bool:
    """A catalogue flavor id, or a CUSTOM-... one whose requests do not exceed its limits."""
    return flavor_id in CATALOGUE_FLAVOR_IDS or parse_custom_flavor(flavor_id) is not None

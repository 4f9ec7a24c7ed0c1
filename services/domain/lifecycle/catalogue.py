"""The metadata catalogue: runtimes, flavors and templates a component can use.

Values follow the ServiceStage v2 reference and the enumerations of the official SDK
(RuntimeType, FlavorId, Template)."""
from __future__ import annotations

import re

from services.contracts.metadata import FlavorView, RuntimeTypeView, TemplateView

RUNTIMES: tuple[RuntimeTypeView, ...] = (
    RuntimeTypeView(type_name="Java8", display_name="Java 8", container_default_port=8080,
                    type_desc="OpenJDK 8 runtime for executable JAR packages (Spring Boot, ServiceComb Java Chassis)."),
    RuntimeTypeView(type_name="Tomcat8", display_name="Tomcat 8", container_default_port=8080,
                    type_desc="Apache Tomcat 8 on OpenJDK 8 for WAR packages."),
    RuntimeTypeView(type_name="Php7", display_name="PHP 7", container_default_port=80,
                    type_desc="PHP 7 with Apache httpd."),
    RuntimeTypeView(type_name="Nodejs8", display_name="Node.js 8", container_default_port=3000,
                    type_desc="Node.js 8 runtime for npm packages."),
    RuntimeTypeView(type_name="Python3", display_name="Python 3", container_default_port=8000,
                    type_desc="Python 3 runtime for WSGI/ASGI applications."),
    RuntimeTypeView(type_name="Docker", display_name="Docker", container_default_port=80,
                    type_desc="Any container image from a registry (SWR or compatible)."),
    RuntimeTypeView(type_name="Custom", display_name="Custom", container_default_port=8080,
                    type_desc="A user-defined runtime: bring your own image and start command."),
)

FLAVORS: tuple[FlavorView, ...] = (
    FlavorView(flavor_id="MICRO-5G:0.5C:1G", storage_size="5G", num_cpu="0.5", num_cpu_init="0.5",
               memory_size="1G", memory_size_init="1G", label="micro", custom=False),
    FlavorView(flavor_id="SMALL-10G:1.0C:2G", storage_size="10G", num_cpu="1.0", num_cpu_init="1.0",
               memory_size="2G", memory_size_init="2G", label="small", custom=False),
    FlavorView(flavor_id="STANDARD-30G:2.0C:4G", storage_size="30G", num_cpu="2.0", num_cpu_init="2.0",
               memory_size="4G", memory_size_init="4G", label="standard", custom=False),
    FlavorView(flavor_id="LARGE-50G:4.0C:8G", storage_size="50G", num_cpu="4.0", num_cpu_init="4.0",
               memory_size="8G", memory_size_init="8G", label="large", custom=False),
    FlavorView(flavor_id="XLARGE-100G:4.0C:16G", storage_size="100G", num_cpu="4.0", num_cpu_init="4.0",
               memory_size="16G", memory_size_init="16G", label="xlarge", custom=False),
    FlavorView(flavor_id="CUSTOM-XG:X-X:X-X", storage_size="XG", num_cpu="X", num_cpu_init="X",
               memory_size="X", memory_size_init="X", label="custom", custom=True),
)

TEMPLATES: tuple[TemplateView, ...] = (
    TemplateView(template_name="wordpress", template_desc="WordPress blog on PHP 7 with a MySQL database.",
                 source_type="template", source_repo_url="https://github.com/WordPress/WordPress.git", runtime="Php7"),
    TemplateView(template_name="magento", template_desc="Magento e-commerce storefront on PHP 7.",
                 source_type="template", source_repo_url="https://github.com/magento/magento2.git", runtime="Php7"),
    TemplateView(template_name="mbaas", template_desc="Mobile backend as a service on Node.js 8.",
                 source_type="template", source_repo_url="https://github.com/parse-community/parse-server.git",
                 runtime="Nodejs8"),
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


def parse_custom_flavor(flavor_id: str) -> dict | None:
    """``{"storage_gb", "cpu", "cpu_request", "memory_gi", "memory_request_gi"}`` of a valid
    CUSTOM-... flavor (CPU in cores), or None."""
    m = _CUSTOM_FLAVOR.match(flavor_id)
    if not m:
        return None
    cpu, cpu_init = _cores(m["cpu"], m["cpu_unit"]), _cores(m["cpu_init"], m["cpu_init_unit"])
    mem, mem_init = _gibibytes(m["mem"], m["mem_unit"]), _gibibytes(m["mem_init"], m["mem_init_unit"])
    if not (0 < cpu_init <= cpu <= _MAX_CORES and 0 < mem_init <= mem <= _MAX_MEMORY_GI):
        return None
    return {"storage_gb": int(m["storage"]), "cpu": cpu, "cpu_request": cpu_init,
            "memory_gi": mem, "memory_request_gi": mem_init}


def is_valid_flavor(flavor_id: str) -> bool:
    """A catalogue flavor id, or a CUSTOM-... one whose requests do not exceed its limits."""
    return flavor_id in CATALOGUE_FLAVOR_IDS or parse_custom_flavor(flavor_id) is not None

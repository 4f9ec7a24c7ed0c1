# openstage image: one image for every role. The command picks the role:
#   docker run openstage:local edge --host 0.0.0.0 --port 8080
#   docker run openstage:local worker lifecycle
# See compose.yaml and docs/deploy.md.

# ---- build: install the project and its dependencies into a virtualenv ----
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/openstage
ENV PATH=/opt/openstage/bin:$PATH
WORKDIR /src
# Dependencies first, read from pyproject.toml, so that a source change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
# Then the project itself (what reaches the context is filtered by .dockerignore).
COPY . .
RUN pip install . \
 && openstage --help > /dev/null

# ---- runtime: the virtualenv only, run as an unprivileged user ----
FROM python:3.11-slim
ENV PATH=/opt/openstage/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENSTAGE_DATA_DIR=/var/lib/openstage
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/openstage --create-home \
        --shell /usr/sbin/nologin openstage
COPY --from=build /opt/openstage /opt/openstage
USER 10001:10001
WORKDIR /var/lib/openstage
EXPOSE 8080
ENTRYPOINT ["openstage"]
CMD ["--help"]

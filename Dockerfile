# One image for the gateway, the collector, the platform API and the simulators.
# Base pinned to an exact release (both stages alike).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY infra infra
COPY adapters adapters
COPY wire wire
COPY devicemodel devicemodel
COPY gateway gateway
COPY collector collector
COPY simulators simulators
COPY plantproof plantproof
COPY assessment assessment
COPY api api
COPY bridge bridge
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[api]'

FROM python:3.11.11-slim-bookworm
# A CJK font for the Chinese inside evidence report charts (without one they draw boxes).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /var/lib/plantproof --create-home plantproof \
    && install -d -o plantproof -g plantproof -m 0700 /var/lib/plantproof/keys
# (a named volume mounted on keys/ starts with this owner and mode: the evidence signing key)
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY configs /etc/plantproof/configs
COPY scripts/docker-entrypoint.sh /usr/local/bin/plantproof-entrypoint
USER plantproof
WORKDIR /var/lib/plantproof
# plantproof itself, passwords from *PASSWORD_FILE variables (Docker secrets) put into the environment
ENTRYPOINT ["plantproof-entrypoint"]
CMD ["--help"]

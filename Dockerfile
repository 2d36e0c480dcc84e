# One image for the gateway, the collector and the simulators.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY infra infra
COPY adapters adapters
COPY wire wire
COPY gateway gateway
COPY collector collector
COPY simulators simulators
COPY plantproof plantproof
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --home /var/lib/plantproof --create-home plantproof
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY configs /etc/plantproof/configs
USER plantproof
WORKDIR /var/lib/plantproof
ENTRYPOINT ["plantproof"]
CMD ["--help"]

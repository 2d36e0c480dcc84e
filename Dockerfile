# One image for the gateway, the collector and the simulators.
FROM python:3.11-slim AS build
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
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# A CJK font for the Chinese inside evidence report charts (without one they draw boxes).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /var/lib/plantproof --create-home plantproof
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY configs /etc/plantproof/configs
USER plantproof
WORKDIR /var/lib/plantproof
ENTRYPOINT ["plantproof"]
CMD ["--help"]

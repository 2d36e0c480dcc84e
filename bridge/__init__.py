"""The MQTT → Kafka bridge: `plantproof bridge run -c bridge.yaml`.

It subscribes the gateways' topics on the MQTT broker, produces each message to one Kafka topic
keyed by (site, gateway) — one gateway's messages keep their order in one partition — with the MQTT
topic in a header, and acknowledges the MQTT message only after Kafka acknowledged it (acks=all).
Collectors in one consumer group read the topic (`source: kafka`).
"""

# Kamailio from Debian with SIP over WebSocket: the lab's PBX as a starting point (no authentication).
FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends kamailio kamailio-websocket-modules \
  && rm -rf /var/lib/apt/lists/* && mkdir -p /run/kamailio
COPY deploy/kamailio.cfg /etc/kamailio/kamailio.cfg
EXPOSE 5060/udp 5066/tcp
CMD ["kamailio", "-DD", "-E", "-f", "/etc/kamailio/kamailio.cfg"]

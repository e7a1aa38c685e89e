#!/usr/bin/env bash
# Starts the docker-compose broker (apache/kafka image) with SASL/SCRAM and ACLs.
#
# Non-secret settings come from KAFKA_* variables (KAFKA_LOG_DIRS -> log.dirs, as the image
# itself maps them); the lines holding passwords are written here from Docker secrets into
# a file only the broker's user can read. On first start the storage is formatted with one
# SCRAM user per role (KIP-900), so the admin can log in before any ACL exists.
set -euo pipefail

secrets=/run/secrets
config=/opt/kafka/config/usage-pipeline.properties
client_config=/opt/kafka/config/admin-client.properties
users=(admin producer stream sink)

password() { tr -d '\n' < "$secrets/kafka_$1_password"; }

umask 077
{
  # The same exclusions as the image's own mapping: these configure the JVM, not Kafka.
  env | grep '^KAFKA_' | grep -Ev '^KAFKA_(VERSION|HEAP_OPTS|OPTS|JMX_OPTS|JVM_PERFORMANCE_OPTS|GC_LOG_OPTS|LOG4J_[A-Z_]*)=' |
    while IFS='=' read -r name value; do
      key=$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | tr '_' '.')
      echo "$key=$value"
    done
  scram="org.apache.kafka.common.security.scram.ScramLoginModule required"
  plain="org.apache.kafka.common.security.plain.PlainLoginModule required"
  for listener in sasl_plaintext host; do
    echo "listener.name.$listener.scram-sha-512.sasl.jaas.config=$scram username=\"admin\" password=\"$(password admin)\";"
  done
  echo "listener.name.controller.plain.sasl.jaas.config=$plain username=\"controller\" password=\"$(password controller)\" user_controller=\"$(password controller)\";"
} > "$config"

cat > "$client_config" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password admin)";
EOF

if [[ ! -f "${KAFKA_LOG_DIRS}/meta.properties" ]]; then
  scram_users=()
  for user in "${users[@]}"; do
    scram_users+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(password "$user")]")
  done
  /opt/kafka/bin/kafka-storage.sh format -t "$CLUSTER_ID" -c "$config" "${scram_users[@]}"
fi

exec /opt/kafka/bin/kafka-server-start.sh "$config"

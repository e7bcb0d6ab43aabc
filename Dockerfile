# The lakesync worker (and command) with the local data plane: Node for the worker,
# Java 17 + PySpark + the Iceberg runtime jar for local loads, and the PostgreSQL JDBC driver
# for tables read with extract: direct. Used by docker-compose.yml.
#   docker build -t lakesync:local .
#   docker run --rm -v $PWD/lakesync.yaml:/config/lakesync.yaml:ro -e TEMPORAL_ADDRESS=host:7233 lakesync:local

# --- build: compile the TypeScript, keep only runtime dependencies ---------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

# --- jars: the Iceberg Spark runtime and the PostgreSQL JDBC driver, from Maven Central ------
# (the versions of scripts/bootstrap.sh)
FROM maven:3.9-eclipse-temurin-17 AS jars
RUN mvn -q -B dependency:get -Dtransitive=false -Dartifact=org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.7.1 \
 && cp /root/.m2/repository/org/apache/iceberg/iceberg-spark-runtime-3.5_2.12/1.7.1/iceberg-spark-runtime-3.5_2.12-1.7.1.jar /iceberg-spark-runtime.jar \
 && mvn -q -B dependency:get -Dtransitive=false -Dartifact=org.postgresql:postgresql:42.7.14 \
 && cp /root/.m2/repository/org/postgresql/postgresql/42.7.14/postgresql-42.7.14.jar /postgresql-jdbc.jar

# --- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-venv tini \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /opt/java
WORKDIR /app
COPY glue/requirements.txt glue/requirements.txt
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r glue/requirements.txt
COPY --from=jars /iceberg-spark-runtime.jar /opt/jars/iceberg-spark-runtime.jar
COPY --from=jars /postgresql-jdbc.jar /opt/jars/postgresql-jdbc.jar
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY glue ./glue
COPY docs ./docs
# Where the local data plane finds its tools (src/toolchain.ts). The worker never starts a
# Temporal dev server, so no Temporal CLI is installed (tools are resolved when first used).
ENV JAVA_HOME=/opt/java \
    LAKESYNC_PYTHON=/opt/venv/bin/python \
    LAKESYNC_ICEBERG_JAR=/opt/jars/iceberg-spark-runtime.jar \
    LAKESYNC_POSTGRES_JDBC_JAR=/opt/jars/postgresql-jdbc.jar \
    NODE_ENV=production
RUN mkdir -p /app/.lakesync/data && chown -R node:node /app/.lakesync
USER node
ENTRYPOINT ["tini", "--", "node", "bin/lakesync.js"]
CMD ["worker", "--config", "/config/lakesync.yaml"]

-- The shop's database and the users of docker-compose.yml. The mysql image runs this once, when it initialises
-- an empty data volume (`docker compose down -v` to start over). Demo-only passwords: they must match
-- DATABASE_URL, SHOP_DATABASE_URL and TRACE_DATABASE_URL in docker-compose.yml and deploy/mysqld-exporter/my.cnf.
-- mysql_native_password comes from the server's --default-authentication-plugin (see docker-compose.yml).

CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- The demo shop owns its schema: it runs the migrations.
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY 'shop-demo-password';
GRANT ALL PRIVILEGES ON shop.* TO 'shop'@'%';

-- The exporter's sql steps only read (they also run inside START TRANSACTION READ ONLY).
CREATE USER IF NOT EXISTS 'shop_reader'@'%' IDENTIFIED BY 'reader-demo-password';
GRANT SELECT ON shop.* TO 'shop_reader'@'%';

-- mysqld_exporter: what its collectors need (processlist: PROCESS; performance_schema: SELECT; slave_status:
-- REPLICATION CLIENT on MySQL, SLAVE MONITOR on MariaDB 10.5.9+, which MySQL never reads from the versioned
-- comment), at most 3 connections so a slow scrape can never crowd out the application.
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY 'exporter-demo-password' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SELECT /*M!100509 , SLAVE MONITOR */ ON *.* TO 'exporter'@'%';

-- The exporter's trace (/trace/<id> and the run pages): the statements MySQL keeps in performance_schema, found by
-- the correlation ID in their comment. Reading them needs SELECT there and nothing else; a few connections at most.
CREATE USER IF NOT EXISTS 'trace_reader'@'%' IDENTIFIED BY 'trace-demo-password' WITH MAX_USER_CONNECTIONS 3;
GRANT SELECT ON performance_schema.* TO 'trace_reader'@'%';

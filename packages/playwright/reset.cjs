'use strict';
/**
 * A worker's database reset without starting a process: the warm-clone protocol of
 * compose_gen/database.py (warm_reset_on, prepare_spare), spoken over one PostgreSQL
 * connection per Playwright worker with the `pg` client.
 *
 * - The reset swaps the worker's spare (a complete copy of the template, made ahead of time)
 *   into place: ONE statement, a DO block that takes the worker's lock, refuses without a
 *   spare, ends the sessions on the worker's database and waits for them, and renames the
 *   old database aside and the spare into its place, all in one transaction. The worker's
 *   name never names a half-made database, nor none. Only the worker's own names are touched
 *   (<db>, <db>_s<digest>, <db>_o<token>) on the task's own server.
 * - The next spare is made after the reset returns (not awaited by the test): leftovers of
 *   earlier swaps and spares of another template are dropped, the spare is cloned from the
 *   template. The next reset waits for it if it is still being made.
 * - No spare (the first reset after a template change, or a failed spare): a plain clone,
 *   as `compose-gen reset` did.
 *
 * The admin credentials are what compose-gen wrote for the task: the worker's database_url
 * in workers.json (0600), pointed at the `postgres` maintenance database.
 */
const { randomBytes } = require('node:crypto');

const MAINTENANCE_DB = 'postgres';
const TEMPLATE_INFIX = '_tpl_';
const SPARE_MARK = '_s';
const ASIDE_MARK = '_o';
const SPARE_DIGEST_LENGTH = 10;
const ASIDE_TOKEN_LENGTH = 8;
const WAIT_MS = 10_000;

function lockKey(client, worker) {
  return `hashtextextended('compose-gen:' || ${client.escapeLiteral(worker)}, 0)`;
}

/** compose_gen.database.SWAP_SQL, with the same names. */
function swapSql(client, worker, spare, aside) {
  const w = client.escapeLiteral(worker);
  const s = client.escapeLiteral(spare);
  const a = client.escapeLiteral(aside);
  return `DO $compose_gen$
BEGIN
  PERFORM pg_advisory_xact_lock(${lockKey(client, worker)});
  IF NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${s}) THEN
    RAISE EXCEPTION 'compose-gen: no spare %', ${s} USING ERRCODE = 'P0002';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_database WHERE datname = ${w}) THEN
    PERFORM pg_terminate_backend(pid, ${WAIT_MS}) FROM pg_stat_activity
      WHERE datname = ${w} AND pid <> pg_backend_pid();
    EXECUTE format('ALTER DATABASE %I RENAME TO %I', ${w}, ${a});
  END IF;
  EXECUTE format('ALTER DATABASE %I RENAME TO %I', ${s}, ${w});
END $compose_gen$`;
}

function templateDigest(template) {
  const at = template.lastIndexOf(TEMPLATE_INFIX);
  const digest = at > 0 ? template.slice(at + TEMPLATE_INFIX.length) : '';
  if (!/^[0-9a-f]+$/.test(digest)) throw new Error(`${template} is not a compose-gen template name`);
  return digest.slice(0, SPARE_DIGEST_LENGTH);
}

function spareName(worker, template) {
  return `${worker}${SPARE_MARK}${templateDigest(template)}`;
}

function hasSuffix(name, worker, mark, length) {
  if (!name.startsWith(worker + mark)) return false;
  const rest = name.slice(worker.length + mark.length);
  return rest.length === length && /^[0-9a-f]+$/.test(rest);
}

/** What of `names` worker `worker` no longer needs (compose_gen.database.leftovers). */
function leftovers(names, worker, template) {
  const keep = template ? spareName(worker, template) : null;
  return names.filter(
    (n) =>
      (hasSuffix(n, worker, SPARE_MARK, SPARE_DIGEST_LENGTH) && n !== keep) ||
      hasSuffix(n, worker, ASIDE_MARK, ASIDE_TOKEN_LENGTH),
  );
}

function adminUrl(databaseUrl) {
  const url = new URL(databaseUrl);
  url.pathname = `/${MAINTENANCE_DB}`;
  return url.toString();
}

/** The `pg` module, or undefined when it is not installed (the caller then starts compose-gen). */
function loadPg() {
  try {
    return require('pg');
  } catch {
    return undefined;
  }
}

class DirectReset {
  /**
   * @param worker a worker of workers.json ({index, database, database_url})
   * @param pg the `pg` module
   */
  constructor(worker, pg) {
    this.worker = worker;
    this.pg = pg;
    this.client = undefined;
    this.template = undefined;
    this.pending = Promise.resolve();
    this.lastSpareError = undefined;
  }

  async connection() {
    if (!this.client) {
      const client = new this.pg.Client({ connectionString: adminUrl(this.worker.database_url) });
      client.on('error', () => {
        this.client = undefined; // the server went away: the next reset connects again
      });
      await client.connect();
      this.client = client;
    }
    return this.client;
  }

  /**
   * The task's template: the one ready template of this database prefix on the task's own
   * server (compose-gen drops a superseded one). `<prefix>_w<i>` is the worker's database.
   */
  async findTemplate(client) {
    const suffix = `_w${this.worker.index}`;
    if (!this.worker.database.endsWith(suffix)) {
      throw new Error(`worker database ${this.worker.database} does not end in ${suffix}`);
    }
    const prefix = this.worker.database.slice(0, -suffix.length);
    const { rows } = await client.query(
      'SELECT datname FROM pg_database WHERE datistemplate AND starts_with(datname, $1) ' +
        'AND length(datname) = length($1) + 12 ORDER BY datname',
      [prefix + TEMPLATE_INFIX],
    );
    if (rows.length !== 1) {
      throw new Error(
        `found ${rows.length} ready templates ${prefix}${TEMPLATE_INFIX}* on the task's server, ` +
          'not one: is the task up (`compose-gen up`)?',
      );
    }
    return rows[0].datname;
  }

  /** Reset the worker's database; resolves to {warm, ms}. */
  async reset() {
    await this.pending; // a spare still being made is the quickest way to a fresh database
    const started = performance.now();
    const client = await this.connection();
    this.template = this.template || (await this.findTemplate(client));
    const worker = this.worker.database;
    let warm = true;
    try {
      await client.query(swapSql(client, worker, spareName(worker, this.template), aside(worker)));
    } catch (error) {
      if (error.code !== 'P0002') throw error;
      warm = false; // no spare: a clone, on the test's clock this once
      this.template = await this.findTemplate(client); // a new template has no spare yet
      await this.clone(client, this.template, worker);
    }
    const ms = performance.now() - started;
    this.pending = this.prepareSpare().catch((error) => {
      this.lastSpareError = error; // the next reset clones instead
    });
    return { warm, ms };
  }

  async clone(client, template, name) {
    const key = lockKey(client, this.worker.database);
    await client.query(`SELECT pg_advisory_lock(${key})`);
    try {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 ' +
          'AND pid <> pg_backend_pid()',
        [template],
      );
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      await client.query(
        `CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ` +
          `${client.escapeIdentifier(template)} STRATEGY FILE_COPY`,
      );
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${key})`);
    }
  }

  /** compose_gen.database.prepare_spare: drop leftovers, make the spare unless it is there. */
  async prepareSpare() {
    const client = await this.connection();
    const worker = this.worker.database;
    const key = lockKey(client, worker);
    await client.query(`SELECT pg_advisory_lock(${key})`);
    try {
      const { rows } = await client.query('SELECT datname FROM pg_database');
      const names = rows.map((r) => r.datname);
      for (const old of leftovers(names, worker, this.template)) {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(old)} WITH (FORCE)`);
      }
      const spare = spareName(worker, this.template);
      if (!names.includes(spare)) {
        await client.query(
          `CREATE DATABASE ${client.escapeIdentifier(spare)} TEMPLATE ` +
            `${client.escapeIdentifier(this.template)} STRATEGY FILE_COPY`,
        );
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${key})`);
    }
  }

  /** Wait for the spare being made, then close the connection. */
  async close() {
    await this.pending;
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => {});
  }
}

function aside(worker) {
  return `${worker}${ASIDE_MARK}${randomBytes(ASIDE_TOKEN_LENGTH / 2).toString('hex')}`;
}

module.exports = { DirectReset, loadPg, leftovers, spareName, templateDigest, adminUrl, swapSql };

// Interop driver: node-soap (npm `soap`) runs tests/interop/scenario.json against the gateway.
// Usage: node driver.js WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
// Prints one JSON line per step.
'use strict';

const fs = require('fs');
const soap = require('soap');

const TIMEOUT_MS = 30000;

async function connect(wsdlUrl) {
  const options = { disableCache: true, wsdl_options: { timeout: TIMEOUT_MS } };
  const user = process.env.INTEROP_USER;
  if (user) {
    // The WSDL download and the calls authenticate separately.
    const token = Buffer.from(`${user}:${process.env.INTEROP_PASSWORD || ''}`).toString('base64');
    options.wsdl_headers = { Authorization: `Basic ${token}` };
  }
  const client = await soap.createClientAsync(wsdlUrl, options);
  if (user) client.setSecurity(new soap.BasicAuthSecurity(user, process.env.INTEROP_PASSWORD || ''));
  return client;
}

// Our decimals are restrictions of xs:decimal, which node-soap leaves as exact text (it would turn a
// plain xs:decimal into a float). Exact difference in kopecks, via BigInt.
function moneyDelta(after, before) {
  const cents = (v) => {
    const [int, frac = ''] = v.replace('-', '').split('.');
    const c = BigInt(int) * 100n + BigInt((frac + '00').slice(0, 2));
    return v.startsWith('-') ? -c : c;
  };
  const diff = cents(after) - cents(before);
  const abs = diff < 0n ? -diff : diff;
  return `${diff < 0n ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

// node-soap reads a dateTime without an offset as the machine's local time: read it back the same way.
function wall(value) {
  if (value === null || value === undefined) return null; // xsi:nil arrives as undefined
  const p = (n) => String(n).padStart(2, '0');
  return `${value.getFullYear()}-${p(value.getMonth() + 1)}-${p(value.getDate())}` +
    `T${p(value.getHours())}:${p(value.getMinutes())}:${p(value.getSeconds())}`;
}

// An array result is its wrapper object with a `Row` list; an empty one is null.
function rows(result, member = 'Row') {
  if (!result || !result[member]) return [];
  return Array.isArray(result[member]) ? result[member] : [result[member]];
}

// A nil element arrives as undefined (or, for some types, as an object of attributes only).
function value(v) {
  return v === undefined || v === null || (typeof v === 'object' && !(v instanceof Date)) ? null : v;
}

// An xs:date arrives as a Date at local midnight.
function day(v) {
  return wall(v).slice(0, 10);
}

async function call(client, operation, args) {
  const [result] = await client[`${operation}Async`](args, { timeout: TIMEOUT_MS });
  return result[`${operation}Result`];
}

class Run {
  constructor(client, steps) {
    this.client = client;
    this.steps = steps;
  }

  args(step) {
    return this.steps[step].args || {};
  }

  async wsdl() {
    const services = this.client.describe();
    const operations = new Set();
    for (const service of Object.values(services)) {
      for (const port of Object.values(service)) Object.keys(port).forEach((name) => operations.add(name));
    }
    return { operations: [...operations].sort() };
  }

  async find() {
    const found = rows(await call(this.client, 'CLN_USR_FIND_2', { CONTRACT_NUMBER_IN: this.args('find').CONTRACT_NUMBER_IN }));
    this.userId = found[0].ID;
    return { count: found.length, ID: found[0].ID, IDENTIFY: found[0].IDENTIFY, BALANCE: found[0].BALANCE };
  }

  async read() {
    const user = await call(this.client, 'CLN_USR_GET', { SELECT_ID: this.userId });
    this.before = user.BALANCE;
    return {
      NAME: user.NAME, CONTRACT_NUMBER: user.CONTRACT_NUMBER, BALANCE: user.BALANCE,
      NEXT_AUTO_ACOUNT: wall(user.NEXT_AUTO_ACOUNT), DISABLED_DATE: wall(user.DISABLED_DATE),
    };
  }

  async pay() {
    const a = this.args('pay');
    // A dateTime is passed as wall-clock text: a JS Date would be sent in UTC ('Z').
    const posted = await call(this.client, 'CLN_FIN_OPER_ADD', {
      USER_ID: this.userId, OP_DATE: a.OP_DATE, SUMMA: a.SUMMA, DESCR: a.DESCR, NUMBER: a.NUMBER,
      IDEMPOTENCY_KEY: require('crypto').randomUUID(),
    });
    this.paidId = posted.ID;
    return { ID: posted.ID };
  }

  async balance() {
    const after = (await call(this.client, 'CLN_USR_GET', { SELECT_ID: this.userId })).BALANCE;
    return { BALANCE: after, delta: moneyDelta(after, this.before) };
  }

  async operation() {
    const a = this.args('operation');
    const listed = rows(await call(this.client, 'CLN_FIN_OPER', { USER_ID: this.userId, DATEL: a.DATEL, DATEH: a.DATEH }));
    const mine = listed.filter((op) => op.ID === this.paidId);
    const op = mine[0];
    return { matches: mine.length, SUMMA: op.SUMMA, NUMBER: op.NUMBER, DESCR: op.DESCR, OP_DATE: wall(op.OP_DATE) };
  }

  async homes() {
    const homes = rows(await call(this.client, 'CLN_HOME_LIST', {}));
    return { count: homes.length, cities: [...new Set(homes.map((h) => h.CITY))].sort() };
  }

  async home_one() {
    const homes = rows(await call(this.client, 'CLN_HOME_LIST', { P_ID: this.args('home_one').P_ID }));
    const h = homes[0];
    return { count: homes.length, CITY: h.CITY, STREET: h.STREET, S_NUMBER: h.S_NUMBER, CONNECT_DATE: wall(h.CONNECT_DATE) };
  }

  async home_none() {
    const result = await call(this.client, 'CLN_HOME_LIST', { P_ID: this.args('home_none').P_ID });
    return { count: rows(result).length, empty_as: JSON.stringify(result === undefined ? 'undefined' : result) };
  }

  async batch() {
    // An array of complex input: the wrapper holds a `Line` list; a field left out is not sent.
    const lines = this.args('batch').LINES.map((line) => ({ IDEMPOTENCY_KEY: require('crypto').randomUUID(), ...line }));
    const first = rows(await call(this.client, 'GatewayPostPayments', { LINES: { Line: lines } }), 'Result');
    const again = rows(await call(this.client, 'GatewayPostPayments', { LINES: { Line: lines } }), 'Result');
    this.batchKey = first[0].IDEMPOTENCY_KEY;
    this.batchId = first[0].ID;
    return {
      LINE: first.map((r) => r.LINE), STATUS: first.map((r) => r.STATUS), USER_ID: first.map((r) => value(r.USER_ID)),
      CODE: first.map((r) => value(r.CODE)), again: again.map((r) => r.STATUS),
      same_ids: JSON.stringify(again.map((r) => value(r.ID))) === JSON.stringify(first.map((r) => value(r.ID))),
    };
  }

  async reconcile() {
    const a = this.args('reconcile');
    const report = await call(this.client, 'GatewayReconcile', { FROM: a.FROM, TO: a.TO, USER_ID: a.USER_ID });
    const mine = rows(report.PAYMENTS, 'Payment').filter((p) => p.IDEMPOTENCY_KEY === this.batchKey)[0];
    const days = rows(report.DAYS, 'Day');
    return {
      KIND: mine.KIND, JOURNAL_STATE: mine.JOURNAL_STATE, BILLING_SUMMA: mine.BILLING_SUMMA,
      same_id: mine.BILLING_ID === this.batchId, days: days.length, DAY: day(days[0].DAY),
      balanced: moneyDelta(days[0].JOURNAL_SUMMA, days[0].BILLING_SUMMA) === '0.00',
    };
  }

  async fault() {
    const a = this.args('fault');
    try {
      await call(this.client, 'CLN_FIN_OPER_ADD', { USER_ID: this.userId, OP_DATE: a.OP_DATE, SUMMA: a.SUMMA, NUMBER: a.NUMBER });
    } catch (err) {
      const fault = err.root.Envelope.Body.Fault;
      return {
        faultcode: fault.faultcode.replace(/^.*:/, ''),
        faultstring: fault.faultstring,
        detail_code: fault.detail.GatewayFault.code,
      };
    }
    throw new Error('no fault');
  }
}

async function main(wsdlUrl, scenarioPath) {
  const steps = {};
  for (const step of JSON.parse(fs.readFileSync(scenarioPath, 'utf8')).steps) steps[step.id] = step;
  let run = null;
  for (const step of Object.keys(steps)) {
    let line;
    try {
      if (run === null) run = new Run(await connect(wsdlUrl), steps);
      line = { step, observed: await run[step]() };
    } catch (err) { // every failure is a matrix cell, not a crash of the driver
      line = { step, error: `${err.name || 'Error'}: ${err.message}` };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

main(process.argv[2], process.argv[3]);

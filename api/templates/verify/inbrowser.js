// The in-browser verifier: docs/certificate-format.md checked in this page, trusting only the node
// the person names. Hashes are WebCrypto's SHA-256; nothing is sent to the registry's server.
// tests/api/test_browser_verifier.py holds it to the Python verifier (certificates/verify.py) on the
// same documents, and tests/api/test_browser_vectors.py to chain/canonical.py and chain/rfc9162.py.
const LedgerVerifier = (() => {
  const FORMAT = "sichuan-ccw/1";
  const MAX_INT = 2n ** 53n - 1n;
  // §5: each scenario's fields and claim keys; tests/api/test_browser_vectors.py compares them with certificates/scenarios.py
  const FOOTPRINT = ["quantity_kg", "footprint_kg", "carbon_neutral"];
  const SUBJECT_FIELDS = ["beneficiary", "subject", "period", "standard", "footprint_report_sha256"];
  const SCENARIOS = {
    LargeEvent: [["beneficiary", "event_name", "event_type", "dates", "venue", "footprint_energy_kg", "footprint_travel_kg",
      "footprint_lodging_kg", "footprint_catering_kg", "footprint_materials_kg", "footprint_waste_kg", "evaluation_mode",
      "footprint_report_sha256"], FOOTPRINT],
    Organisation: [SUBJECT_FIELDS, FOOTPRINT], Product: [SUBJECT_FIELDS, FOOTPRINT],
    Building: [SUBJECT_FIELDS, FOOTPRINT], Region: [SUBJECT_FIELDS, FOOTPRINT],
    TreePlantingDuty: [["beneficiary", "id_number", "id_masked", "year"],
      ["quantity_kg", "trees", "kg_per_tree", "duty_kg", "duty_fulfilled"]],
    EcologicalJustice: [["beneficiary", "court", "case_number", "judgment_date", "damage_yuan", "unit_price_yuan_per_t"],
      ["quantity_kg"]],
    Personal: [["beneficiary", "account", "activities", "footprint_report_sha256"], FOOTPRINT],
    Voluntary: [["beneficiary", "message"], ["quantity_kg"]],
  };
  // §8: the contract's enum order
  const ORDER = ["LargeEvent", "Organisation", "Product", "Building", "Region", "TreePlantingDuty", "EcologicalJustice",
    "Personal", "Voluntary"];
  // §5.1
  const REPORT_FORMAT = "ledger-footprint-report/1", REPORT_FIELD = "footprint_report_sha256", REPORT_MEMBER = "footprint_report";
  const SUBJECTS = {LargeEvent: "event", Organisation: "organisation", Product: "organisation", Building: "organisation",
    Region: "organisation", Personal: "person"};
  const SOURCES = {footprint_energy_kg: ["fuel-stationary", "fuel-mobile", "electricity-heat"], footprint_travel_kg: ["travel"],
    footprint_lodging_kg: ["lodging"], footprint_catering_kg: ["catering"], footprint_materials_kg: ["materials"],
    footprint_waste_kg: ["waste"]};
  // §8: selectors and the event topic
  const SEL = {anchoredRoot: "061c4a74", registry: "7b103999", revokedAt: "098787ce"};
  const CREDITS_RETIRED = "0x9aa2912b82e3e74edecf00e5e52093bdcaa6d7d1561f1f2cb4a3e38b766b3839";
  const CHECKS = {
    format: ["文档格式", "Document format"], issuer: ["签发登记簿", "Issuing registry"],
    fields: ["字段承诺", "Field commitments"], claim: ["声明与数量", "Claim and quantities"],
    beneficiary: ["受益方承诺与链上一致", "Beneficiary commitment matches the chain"],
    inclusion: ["透明日志包含证明", "Inclusion in the transparency log"], anchor: ["日志根已上链锚定", "Log root anchored on chain"],
    retirements: ["链上注销记录", "Retirements on chain"], revocation: ["未被撤销", "Not revoked"],
  };

  // ------------------------------------------------------------ JSON as Python reads it
  // JSON.parse cannot tell 1.0 from 1 nor keep 2^60 exact; Python's json.loads can, and canonical JSON
  // refuses floats and integers beyond ±2^53. So numbers keep their kind: a safe integer is a Number,
  // a larger one a BigInt, anything with a fraction or exponent (or NaN, Infinity) a JsonFloat.
  class JsonFloat { constructor(text) { this.text = text; } }
  function parse(text) {
    let i = 0;
    const fail = (what) => { throw new SyntaxError(`${what} at character ${i}`); };
    const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
    const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    function value() {
      ws();
      const c = text[i];
      if (c === "{") {
        i++; const obj = Object.create(null); ws();
        if (text[i] === "}") { i++; return obj; }
        for (;;) {
          ws(); if (text[i] !== '"') fail("expected a key");
          const key = string(); ws(); if (text[i] !== ":") fail("expected ':'"); i++;
          obj[key] = value(); ws();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "}") { i++; return obj; }
          fail("expected ',' or '}'");
        }
      }
      if (c === "[") {
        i++; const arr = []; ws();
        if (text[i] === "]") { i++; return arr; }
        for (;;) {
          arr.push(value()); ws();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "]") { i++; return arr; }
          fail("expected ',' or ']'");
        }
      }
      if (c === '"') return string();
      for (const [word, v] of [["true", true], ["false", false], ["null", null], ["NaN", new JsonFloat("NaN")],
        ["Infinity", new JsonFloat("Infinity")], ["-Infinity", new JsonFloat("-Infinity")]]) {
        if (text.startsWith(word, i)) { i += word.length; return v; }
      }
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail("expected a value");
      i += m[0].length;
      if (m[1] || m[2]) return new JsonFloat(m[0]);
      const n = BigInt(m[0]);
      return n <= MAX_INT && n >= -MAX_INT ? Number(n) : n;
    }
    function string() {
      i++; let out = "";
      for (;;) {
        const j = i;
        while (i < text.length && text[i] !== '"' && text[i] !== "\\" && text.charCodeAt(i) >= 0x20) i++;
        out += text.slice(j, i);
        if (i >= text.length) fail("unterminated string");
        const c = text[i];
        if (c === '"') { i++; return out; }
        if (c !== "\\") fail("control character in a string");
        const e = text[i + 1];
        const simple = {'"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t"}[e];
        if (simple !== undefined) { out += simple; i += 2; continue; }
        if (e !== "u" || !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail("bad escape");
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)); i += 6;
      }
    }
    const v = value(); ws();
    if (i !== text.length) fail("extra data");
    return v;
  }

  // ------------------------------------------------------------ canonical JSON (§2, chain/canonical.py)
  class CanonicalError extends Error {}
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonFloat);
  const isInt = (v) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
  const wellFormed = (s) => (s.isWellFormed ? s.isWellFormed() : !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s));
  function byCodePoint(a, b) {  // Python sorts str by code point; JS's sort by UTF-16 unit differs above U+FFFF
    const x = [...a], y = [...b];
    for (let k = 0; k < Math.min(x.length, y.length); k++) {
      const d = x[k].codePointAt(0) - y[k].codePointAt(0);
      if (d) return d;
    }
    return x.length - y.length;
  }
  function canonicalText(v, path) {
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "string") {
      if (!wellFormed(v)) throw new CanonicalError(`${path}: a lone surrogate (\\ud800-\\udfff) is not text; send UTF-8 text`);
      return JSON.stringify(v);  // escapes exactly " \ and control characters, as json.dumps(ensure_ascii=False)
    }
    if (isInt(v)) {
      const n = BigInt(v);
      if (n > MAX_INT || n < -MAX_INT) throw new CanonicalError(`${path}: integer ${n} is beyond ±2^53; write it as a string`);
      return n.toString();
    }
    if (v instanceof JsonFloat) throw new CanonicalError(`${path}: float is not allowed (strings, integers, booleans, null, arrays, objects)`);
    if (Array.isArray(v)) return "[" + v.map((x, k) => canonicalText(x, `${path}[${k}]`)).join(",") + "]";
    if (isObject(v)) {
      const keys = Object.keys(v).sort(byCodePoint);
      return "{" + keys.map((k) => {
        if (!wellFormed(k)) throw new CanonicalError(`${path}.${k}: a lone surrogate (\\ud800-\\udfff) is not text; send UTF-8 text`);
        return JSON.stringify(k) + ":" + canonicalText(v[k], `${path}.${k}`);
      }).join(",") + "}";
    }
    throw new CanonicalError(`${path}: ${typeof v} is not allowed`);
  }
  const canonical = (v) => new TextEncoder().encode(canonicalText(v, "$"));

  // ------------------------------------------------------------ hashes (§2, §6, §7)
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
  function needCrypto() {
    if (!(globalThis.crypto && crypto.subtle)) {
      throw new Error("this browser offers no WebCrypto here (it needs https or localhost); open the page over https");
    }
  }
  async function sha256(bytes) { needCrypto(); return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  const concat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
  const commitment = async (name, value, salt) => hex(await sha256(canonical({field: name, salt, value})));
  const certificateLeaf = (body) => leafHash(canonical({type: "certificate", certificate: body}));

  async function rootFromInclusion(index, size, leaf, proof) {  // RFC 9162 §2.1.3.2; null when it does not fit
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn >= BigInt(size)) return null;
    for (const p of proof) {
      if (sn === 0n) return null;
      if (fn & 1n || fn === sn) {
        r = await nodeHash(p, r);
        while (!(fn & 1n) && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  // ------------------------------------------------------------ the node (§8)
  class EvidenceError extends Error {}
  // a JSON-RPC quantity read as certificates/evidence.py reads it (int(text, 16)): hex text, never a
  // number and never decimal, so "10" is sixteen in both verifiers
  function quantity(v) {
    if (typeof v !== "string" || !/^(0[xX])?[0-9a-fA-F]+$/.test(v)) throw new Error(`${show(v)} is not a hex quantity`);
    return BigInt("0x" + v.replace(/^0[xX]/, ""));
  }
  class RpcRefused extends Error {}
  class Node {
    constructor(url, registry, revocations, timeoutMs) {
      this.url = url; this.registry = registry.toLowerCase(); this.revocations = revocations.toLowerCase();
      this.timeoutMs = timeoutMs; this.unreachable = null; this.id = 0; this.calls = 0; this._chainId = null;
    }
    async ask(method, ...params) {
      if (this.unreachable) throw new EvidenceError(this.unreachable);
      const body = JSON.stringify({jsonrpc: "2.0", id: ++this.id, method, params});
      let reply;
      this.calls++;
      try {
        const r = await fetch(this.url, {method: "POST", headers: {"Content-Type": "application/json"}, body,
          signal: AbortSignal.timeout(this.timeoutMs), cache: "no-store", credentials: "omit"});
        reply = await r.json();
      } catch (e) {
        this.unreachable = `the node ${this.url} did not answer (${e.name === "TimeoutError" ? "timed out" : e.message}); ` +
          "check the address, that the node runs, and that it allows this page's origin (CORS)";
        throw new EvidenceError(this.unreachable);
      }
      if (!(reply !== null && typeof reply === "object" && !Array.isArray(reply) && ("result" in reply || "error" in reply))) {
        // as chain/rpc.py: an answer that is not a JSON-RPC reply is a node not to be read any further
        this.unreachable = `the node ${this.url} answered ${method} with JSON that is not a JSON-RPC reply (no result, no error)`;
        throw new EvidenceError(this.unreachable);
      }
      if (reply.error) throw new RpcRefused(`${method}: ${reply.error.message || JSON.stringify(reply.error)}`);
      return reply.result;
    }
    chainId() {  // asked once: the checks that need it share the one answer (or the one failure)
      if (this._chainId === null) {
        this._chainId = this.ask("eth_chainId").then((id) => quantity(id), (e) => {
          throw e instanceof EvidenceError ? e : new EvidenceError(`eth_chainId: ${e.message}`);
        }).catch((e) => { throw e instanceof EvidenceError ? e : new EvidenceError(`eth_chainId: ${e.message}`); });
      }
      return this._chainId;
    }
    async call(to, selector, argHex) {  // one 32-byte word back, or an EvidenceError naming why not
      try {
        const answer = await this.ask("eth_call", {to, data: "0x" + selector + argHex}, "latest");
        if (answer === "0x" || answer === "0x0") {
          const code = await this.ask("eth_getCode", to, "latest");
          if (code === "0x" || code === "0x0") throw new EvidenceError(`there is no contract at ${to} on this chain; check the address`);
        }
        if (typeof answer !== "string" || !/^0x(?:[0-9a-fA-F]{2}){32,}$/.test(answer)) throw new Error(`an answer that is not a 32-byte word: ${answer}`);
        return answer.slice(2, 66).toLowerCase();
      } catch (e) {
        throw e instanceof EvidenceError ? e : new EvidenceError(`${selector} on ${to}: ${e.message}`);
      }
    }
    async anchoredRoot(treeSize) {
      const root = await this.call(this.registry, SEL.anchoredRoot, BigInt(treeSize).toString(16).padStart(64, "0"));
      return /^0+$/.test(root) ? null : root;
    }
    async retirement(txHash, logIndex) {
      let receipt;
      try {
        receipt = await this.ask("eth_getTransactionReceipt", txHash);
      } catch (e) {
        if (e instanceof RpcRefused) return null;
        throw e;
      }
      if (receipt === null || receipt === undefined) return null;
      try {
        if (quantity(receipt.status) !== 1n) return null;
        for (const log of receipt.logs) {
          if (quantity(log.logIndex) === BigInt(logIndex) && log.address.toLowerCase() === this.registry) {
            if ((log.topics[0] || "").toLowerCase() !== CREDITS_RETIRED || log.topics.length !== 4) return null;
            // whole 32-byte topics and whole bytes of data, or the ABI decoder (certificates/evidence.py) reads nothing
            if (!log.topics.every((t) => /^0x[0-9a-fA-F]{64}$/.test(t)) || !/^0x(?:[0-9a-fA-F]{2})*$/.test(log.data)) {
              throw new Error("the event's topics or data are not whole 32-byte words and bytes of hex");
            }
            const data = log.data.slice(2);
            if (data.length < 5 * 64) throw new Error("the event's data is shorter than five words");
            const word = (k) => data.slice(64 * k, 64 * k + 64).toLowerCase();
            const index = Number(BigInt("0x" + word(1)));
            return {
              batch_id: BigInt(log.topics[1]), holder: "0x" + log.topics[2].slice(-40).toLowerCase(), amount: BigInt("0x" + word(0)),
              beneficiary_commitment: "0x" + word(2), scenario: index < ORDER.length ? ORDER[index] : `unknown ${index}`,
              claim_hash: "0x" + word(3),
            };
          }
        }
        return null;
      } catch (e) {
        throw new EvidenceError(`the receipt of ${txHash}: ${e.message}`);
      }
    }
    async revoked(leaf) {  // fails closed, like certificates/evidence.py: a list not governed by the registry is unreadable
      if (!this.revocations) throw new EvidenceError("the certificate names no revocation list");
      const word = await this.call(this.revocations, SEL.registry, "");
      // an address is a word whose first 12 bytes are zero; the ABI decoder refuses any other (fails closed)
      if (!/^0{24}/.test(word)) throw new EvidenceError(`the revocation list ${this.revocations} answered registry() with 0x${word}, not an address`);
      const governor = "0x" + word.slice(24);
      if (governor !== this.registry) {
        throw new EvidenceError(`the revocation list ${this.revocations} is governed by ${governor}, not by the registry ${this.registry}`);
      }
      return BigInt("0x" + (await this.call(this.revocations, SEL.revokedAt, leaf))) !== 0n;
    }
  }

  // ------------------------------------------------------------ the checks (certificates/verify.py, §3-§9)
  const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  const get = (o, k) => (isObject(o) && has(o, k) ? o[k] : undefined);
  const HEX64 = /^[0-9a-f]{64}$/;
  const hex64 = (v) => typeof v === "string" && HEX64.test(v);
  const natural = (v) => isInt(v) && BigInt(v) >= 0n;
  const size = (v) => natural(v) && BigInt(v) <= MAX_INT;
  const sameInt = (a, b) => isInt(a) && isInt(b) && BigInt(a) === BigInt(b);
  const show = (v) => (v === undefined ? "None" : v instanceof JsonFloat ? v.text : typeof v === "string" ? v : JSON.stringify(v, (k, x) => (typeof x === "bigint" ? x.toString() : x)));
  const str = (v) => (v === undefined ? "" : typeof v === "string" ? v : show(v));

  function shape(doc) {
    if (!isObject(doc)) return "the document is not a JSON object";
    const body = get(doc, "certificate");
    if (get(doc, "format") !== FORMAT || !isObject(body) || get(body, "format") !== FORMAT) return `not a ${FORMAT} document`;
    for (const [key, kind] of [["id", "str"], ["scenario", "str"], ["issuer", "dict"], ["issued_at", "str"], ["claim", "dict"],
      ["fields", "dict"], ["retirements", "list"]]) {
      const v = get(body, key);
      const ok = kind === "str" ? typeof v === "string" : kind === "dict" ? isObject(v) : Array.isArray(v);
      if (!ok) return `certificate.${key} is missing or not a ${kind}`;
    }
    const issuer = body.issuer;
    const address = (v) => typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v);
    if (!(typeof get(issuer, "name") === "string" && natural(get(issuer, "chain_id")) && address(get(issuer, "registry")) && address(get(issuer, "revocations")))) {
      return "certificate.issuer must hold name, chain_id (an integer), registry and revocations (0x addresses)";
    }
    if (!has(SCENARIOS, body.scenario)) return `certificate.scenario '${body.scenario}' is not one of ${ORDER.join(", ")}`;
    const names = new Set(SCENARIOS[body.scenario][0]);
    const unknown = Object.keys(body.fields).filter((k) => !names.has(k)).sort();
    if (unknown.length) return `certificate.fields has ${unknown.join(", ")}, not fields of ${body.scenario}`;
    if (!has(body.fields, "beneficiary")) return "certificate.fields lacks the beneficiary";
    if (!body.retirements.length || !body.retirements.every(isObject)) return "certificate.retirements must list at least one retirement";
    for (const [k, r] of body.retirements.entries()) {
      const tx = get(r, "tx_hash");
      if (!(typeof tx === "string" && tx.startsWith("0x") && hex64(tx.slice(2)) && natural(get(r, "log_index")) &&
        natural(get(r, "amount_kg")) && natural(get(r, "batch_id")) && Array.isArray(get(r, "serial_ranges")))) {
        return `certificate.retirements[${k}] lacks tx_hash, log_index, batch_id, amount_kg or serial_ranges`;
      }
    }
    if (has(body, "allocation") && !(isObject(body.allocation) && Object.keys(body.allocation).sort().join(",") === "leaf,proof" &&
      body.scenario === "Personal" && body.retirements.length === 1)) {
      return 'certificate.allocation is {"leaf", "proof"} of a Personal certificate of one retirement (docs/offsets.md)';
    }
    const listed = body.retirements.map((r) => `${r.tx_hash.toLowerCase()}#${BigInt(r.log_index)}`);
    if (new Set(listed).size !== listed.length) return "certificate.retirements lists a retirement twice";
    if (!Object.values(body.fields).every(hex64)) return "certificate.fields must map names to 64-hex-digit commitments";
    if (has(doc, "disclosed") && !isObject(doc.disclosed)) return "disclosed must be an object";
    if (!has(doc, "proof")) return "proof is missing: a document carries its inclusion proof, or null until the log is anchored";
    const proof = doc.proof;
    if (proof !== null && !(isObject(proof) && size(get(proof, "leaf_index")) && size(get(proof, "tree_size")) &&
      hex64(get(proof, "root")) && Array.isArray(get(proof, "inclusion")) && proof.inclusion.every(hex64))) {
      return `proof must hold leaf_index and tree_size (integers from 0 to ${MAX_INT}), root (64 hex) and inclusion (a list of 64-hex hashes)`;
    }
    return null;
  }

  async function openingProblem(name, opening, committed) {
    if (committed === undefined) return "is not a committed field";
    if (!isObject(opening)) return 'is not an opening of exactly "value" and "salt"';
    const keys = Object.keys(opening).sort();
    if (keys.length !== 2 || keys[0] !== "salt" || keys[1] !== "value") return 'is not an opening of exactly "value" and "salt"';
    const {value, salt} = opening;
    if (typeof salt !== "string" || !(typeof value === "string" || isInt(value))) {
      return "has a value that is neither text nor an integer, or a salt that is not text";
    }
    try {
      return (await commitment(name, value, salt)) === committed ? null : "does not match its commitment";
    } catch (e) {
      if (e instanceof CanonicalError) return `cannot be hashed (${e.message})`;
      throw e;
    }
  }

  async function reportHashProblem(doc) {
    if (!has(doc, REPORT_MEMBER)) return null;
    const opening = get(doc.disclosed || {}, REPORT_FIELD);
    if (!isObject(opening) || !has(opening, "value")) {
      return `the document carries a footprint report but does not open ${REPORT_FIELD}, the hash that would tie it`;
    }
    let actual;
    try {
      actual = hex(await sha256(canonical(doc[REPORT_MEMBER])));
    } catch (e) {
      if (e instanceof CanonicalError) return `the footprint report cannot be hashed (${e.message})`;
      throw e;
    }
    return actual === opening.value ? null : `the footprint report's sha256 is ${actual}, not the committed ${show(opening.value)}`;
  }

  async function fieldsCheck(body, disclosed, reportProblem) {
    const bad = [];
    for (const name of Object.keys(disclosed).sort()) {
      const why = await openingProblem(name, disclosed[name], get(body.fields, name));
      if (why) bad.push(`field ${name} ${why}`);
    }
    if (bad.length || reportProblem) return ["fields", false, [...bad, ...(reportProblem ? [reportProblem] : [])].join("; ")];
    const n = Object.keys(disclosed).length;
    return ["fields", true, `${n} disclosed field(s) match their commitments; ${Object.keys(body.fields).length - n} hidden`];
  }

  // decimals as (integer digits, scale): exact products, as Python's Decimal with enough precision
  const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
  function decimal(v) {
    if (typeof v !== "string" || !DECIMAL.test(v)) return null;
    const [whole, frac = ""] = v.split(".");
    return {n: BigInt(whole + frac), scale: frac.length, text: v};
  }
  const scaled = (d, scale) => d.n * 10n ** BigInt(scale - d.scale);
  const positive = (v) => isInt(v) && BigInt(v) > 0n;

  function claimErrors(claim, retired, scenario) {
    const errors = [];
    const keySets = claimKeySets(scenario);
    const given = Object.keys(claim);
    if (!keySets.some((keys) => given.length === keys.length && keys.every((k) => has(claim, k)))) {
      errors.push(`a ${scenario} claim has exactly ` + keySets.map((keys) => [...keys].sort().join(", ")).join(" or exactly "));
    }
    const quantity = get(claim, "quantity_kg");
    if (!isInt(quantity) || BigInt(quantity) !== retired) errors.push(`the claim states ${show(quantity)} kg but its retirements add up to ${retired} kg`);
    if (has(claim, "carbon_neutral")) {
      const footprint = get(claim, "footprint_kg");
      if (!positive(footprint)) errors.push(`the footprint must be a whole number of kg above 0, not ${show(footprint)}`);
      else if (typeof claim.carbon_neutral !== "boolean" || claim.carbon_neutral !== (retired >= BigInt(footprint))) {
        errors.push("the carbon-neutral statement does not follow from the retired quantity and the footprint");
      }
    }
    if (has(claim, "duty_fulfilled")) {
      const trees = get(claim, "trees"), rate = get(claim, "kg_per_tree");
      if (!positive(trees) || !positive(rate)) errors.push(`the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not ${show(trees)} and ${show(rate)}`);
      else {
        const duty = BigInt(trees) * BigInt(rate);
        if (!isInt(get(claim, "duty_kg")) || BigInt(claim.duty_kg) !== duty || typeof claim.duty_fulfilled !== "boolean" || claim.duty_fulfilled !== (retired >= duty)) {
          errors.push("the tree-planting conversion does not follow from trees × kg per tree");
        }
      }
    }
    if (has(claim, "obligation_fulfilled")) {
      const terms = DAMAGES_TERMS.map((k) => get(claim, k));
      const owed = get(claim, "obligation_kg"), fulfilled = claim.obligation_fulfilled;
      const parsed = terms.map((v) => (typeof v === "string" && TERM.test(v) ? decimal(v) : null));
      if (!parsed.every((d) => d !== null && d.n > 0n)) {
        errors.push(`${DAMAGES_TERMS.join(", ")} must be decimals above 0 written as plain digits, not ${show(terms)}`);
      } else if (!isInt(owed) || BigInt(owed) !== obligationKg(...parsed) || typeof fulfilled !== "boolean" || fulfilled !== (retired >= BigInt(owed))) {
        errors.push("the obligation does not follow from the damages: obligation_kg = ⌈damages_yuan × price_tonnes × 1000 ÷ price_yuan⌉ and obligation_fulfilled = retired ≥ obligation_kg");
      }
    }
    if (has(claim, "rule")) {
      const problem = ruleProblem(claim.rule);
      if (problem) errors.push(`the claim's conversion rule ${problem}`);
    }
    return errors;
  }

  // a tree duty's or a damages claim's conversion rule (certificates/document.py): checked from the claim
  // alone; whether the rule is a published one is for a verifier that ships the rules (§5.2)
  const DAMAGES_TERMS = ["damages_yuan", "price_yuan", "price_tonnes"];
  const TERM = /^[0-9]{1,20}(\.[0-9]{1,6})?$/;
  function claimKeySets(scenario) {
    const keys = SCENARIOS[scenario][1];
    if (scenario === "TreePlantingDuty") return [keys, [...keys, "rule"]];
    if (scenario === "EcologicalJustice") return [keys, [...keys, ...DAMAGES_TERMS, "obligation_kg", "obligation_fulfilled", "rule"]];
    return [keys];
  }
  function obligationKg(damages, price, tonnes) {  // ⌈damages × tonnes × 1000 ÷ price⌉, exactly
    const num = damages.n * tonnes.n * 1000n * 10n ** BigInt(price.scale);
    const den = price.n * 10n ** BigInt(damages.scale + tonnes.scale);
    return (num + den - 1n) / den;
  }
  function ruleProblem(rule) {
    const keys = isObject(rule) ? Object.keys(rule).sort().join(",") : "";
    if (keys !== "id,sha256,version") return 'must be exactly {"id", "version", "sha256"}';
    if (typeof rule.id !== "string" || !rule.id || rule.id.includes("@")) return "id must be the rule's id (text without @)";
    if (!positive(rule.version)) return "version must be a whole number above 0";
    if (typeof rule.sha256 !== "string" || !HEX64.test(rule.sha256)) return "sha256 must be 64 lowercase hex digits";
    return null;
  }

  function reportProblems(report, claim, scenario, values) {
    if (!isObject(report)) return ["the footprint report is not a JSON object"];
    if (get(report, "format") !== REPORT_FORMAT) return [`the footprint report's format is not ${REPORT_FORMAT}`];
    const problems = [];
    if (SUBJECTS[scenario] !== get(report, "subject")) problems.push(`the footprint report's subject ${show(get(report, "subject"))} is not a ${scenario}'s`);
    const lines = get(report, "lines");
    if (!Array.isArray(lines) || !lines.length || !lines.every(isObject)) return [...problems, "the footprint report has no lines"];
    lines.forEach((ln, k) => {
      const i = k + 1;
      const factor = get(ln, "factor");
      const nums = [get(ln, "factor_quantity"), isObject(factor) ? get(factor, "kgco2e_per_unit") : undefined, get(ln, "multiplier"), get(ln, "exact_kgco2e")].map(decimal);
      if (nums.some((x) => x === null) || !natural(get(ln, "kgco2e")) || typeof get(ln, "category") !== "string") {
        problems.push(`report line ${i} lacks its category, decimals or whole kgco2e`);
        return;
      }
      const [q, f, m, exact] = nums;
      const product = {n: q.n * f.n * m.n, scale: q.scale + f.scale + m.scale};
      const scale = Math.max(product.scale, exact.scale);
      if (scaled(product, scale) !== scaled(exact, scale)) {
        problems.push(`report line ${i}: ${q.text} × ${f.text} × ${m.text} is not ${exact.text}`);
        return;
      }
      const unit = 10n ** BigInt(exact.scale);
      const ceil = (exact.n + unit - 1n) / unit;
      if (ceil !== BigInt(ln.kgco2e)) problems.push(`report line ${i}: ${exact.text} rounded up is not ${show(ln.kgco2e)} kg`);
    });
    if (problems.length) return problems;
    const total = lines.reduce((s, ln) => s + BigInt(ln.kgco2e), 0n);
    if (!sameInt(get(report, "total_kgco2e"), total)) problems.push(`the footprint report's lines add up to ${total} kg, not its total ${show(get(report, "total_kgco2e"))}`);
    const sums = new Map();
    for (const ln of lines) sums.set(ln.category, (sums.get(ln.category) || 0n) + BigInt(ln.kgco2e));
    const categories = get(report, "categories");
    let same = Array.isArray(categories) && categories.length === sums.size;
    if (same) {
      const stated = new Map();
      for (const c of categories) if (isObject(c) && typeof get(c, "category") === "string") stated.set(c.category, get(c, "kgco2e"));
      same = stated.size === sums.size && [...sums].every(([c, kg]) => stated.has(c) && sameInt(stated.get(c), kg));
    }
    if (!same) problems.push("the footprint report's categories are not the sums of its lines");
    if (!sameInt(get(claim, "footprint_kg"), total)) problems.push(`the claim's footprint ${show(get(claim, "footprint_kg"))} kg is not the report's total ${total} kg`);
    if (scenario === "LargeEvent") {
      for (const [name, cats] of Object.entries(SOURCES)) {
        const sum = lines.filter((ln) => cats.includes(ln.category)).reduce((s, ln) => s + BigInt(ln.kgco2e), 0n);
        if (has(values, name) && !sameInt(values[name], sum)) problems.push(`field ${name} is ${show(values[name])}, not the report's ${sum} kg`);
      }
    }
    return problems;
  }

  function claimCheck(doc) {
    const body = doc.certificate;
    let retired = body.retirements.reduce((s, r) => s + BigInt(r.amount_kg), 0n);
    if (has(body, "allocation")) {  // one person's share of an aggregated retirement (docs/offsets.md): the share is claimed
      const leaf = get(body.allocation, "leaf");
      retired = natural(get(leaf, "kg")) ? BigInt(leaf.kg) : -1n;
    }
    const errors = claimErrors(body.claim, retired, body.scenario);
    let detail = `${show(get(body.claim, "quantity_kg"))} kg`;
    if (has(doc, REPORT_MEMBER)) {
      const values = Object.create(null);
      for (const [n, o] of Object.entries(isObject(doc.disclosed) ? doc.disclosed : {})) if (isObject(o)) values[n] = get(o, "value");
      errors.push(...reportProblems(doc[REPORT_MEMBER], body.claim, body.scenario, values));
      if (!errors.length) detail += `; the footprint report's ${doc[REPORT_MEMBER].lines.length} line(s) add up to the footprint`;
    }
    return ["claim", !errors.length, errors.join("; ") || detail];
  }

  async function inclusionCheck(leaf, proof) {
    if (proof === null) return ["inclusion", false, "no inclusion proof yet: the log has not been anchored since this certificate; fetch the document again later"];
    const root = await rootFromInclusion(proof.leaf_index, proof.tree_size, leaf, proof.inclusion.map(unhex));
    if (root === null || hex(root) !== proof.root) {
      return ["inclusion", false, `the proof does not lead from leaf ${proof.leaf_index} to the root of a tree of ${proof.tree_size} entries`];
    }
    return ["inclusion", true, `leaf ${proof.leaf_index} of a tree of ${proof.tree_size} entries`];
  }

  async function anchorCheck(proof, node) {
    if (proof === null) return ["anchor", false, "no anchored tree size to check against yet"];
    const anchored = await node.anchoredRoot(proof.tree_size);
    if (anchored === null) return ["anchor", false, `no root is anchored on chain for tree size ${proof.tree_size}`];
    if (anchored !== proof.root) return ["anchor", false, `the root anchored on chain for tree size ${proof.tree_size} is 0x${anchored}, not the document's`];
    return ["anchor", true, `root of tree size ${proof.tree_size} anchored on chain (node)`];
  }

  // §5.2: the case reference a court order's retirements commit to by their claim hash, recomputed from
  // the disclosed case and the claim (certificates/court_reference.py); null for another claim
  const CASE_FIELDS = ["court", "case_number", "judgment_date"];
  async function expectedCase(body, disclosed) {
    const claim = body.claim;
    if (body.scenario !== "EcologicalJustice" || !has(claim, "obligation_kg") || !has(claim, "rule")) return null;
    const member = (o, k) => { const v = get(o, k); return v === undefined ? null : v; };
    const ref = {format: "ledger-court-case-reference/1"}, hidden = [];
    for (const name of CASE_FIELDS) {
      const opening = get(disclosed, name);
      if (isObject(opening) && has(opening, "value")) ref[name] = opening.value;
      else if (has(body.fields, name)) hidden.push(name);
      else ref[name] = null;  // not committed: a case without a judgment date
    }
    if (hidden.length) return {claimHash: null, hidden, problem: null};
    for (const k of ["damages_yuan", "rule", "obligation_kg"]) ref[k] = member(claim, k);
    try {
      return {claimHash: "0x" + hex(await sha256(canonical(ref))), hidden, problem: null};
    } catch (e) {
      if (e instanceof CanonicalError) return {claimHash: null, hidden, problem: `the disclosed case cannot be hashed (${e.message})`};
      throw e;
    }
  }

  // docs/offsets.md §4, as certificates/allocation.py: [failing check, why] or null
  async function allocationFailure(leaf, proof, claimHash, ranges) {
    const keys = ["account_commitment", "kg", "purchase_id", "serial_first", "serial_last"];
    if (!isObject(leaf) || Object.keys(leaf).sort().join(",") !== keys.join(",")) return ["allocation", `the allocation must be an object with exactly ${keys.join(", ")}`];
    if (typeof leaf.account_commitment !== "string") return ["account commitment", "the account commitment must be 64 lowercase hex digits"];
    if (!isInt(leaf.kg)) return ["kilograms", "kg must be a whole number"];
    if (!isInt(leaf.serial_first) || !isInt(leaf.serial_last)) return ["serials", "serial_first and serial_last must be whole numbers"];
    if (typeof leaf.purchase_id !== "string") return ["allocation", "the purchase id must be text"];
    const kg = BigInt(leaf.kg), first = BigInt(leaf.serial_first), last = BigInt(leaf.serial_last);
    if (!hex64(leaf.account_commitment)) return ["account commitment", "the account commitment must be 64 lowercase hex digits"];
    if (!(kg > 0n && kg <= MAX_INT)) return ["kilograms", `kg must be a whole number of kilograms from 1 to ${MAX_INT}`];
    if (!(first >= 0n && first <= last && last <= MAX_INT)) return ["serials", "serial_first and serial_last must be serials with serial_first ≤ serial_last"];
    if (kg !== last - first + 1n) return ["kilograms", `${kg} kg but serials ${first}–${last} are ${last - first + 1n} kilograms`];
    if (!(leaf.purchase_id.length > 0 && leaf.purchase_id.length <= 64 && /^[\x20-\x7e]+$/.test(leaf.purchase_id))) return ["allocation", "the purchase id must be 1 to 64 printable ASCII characters"];
    const pairs = Array.isArray(ranges) && ranges.length && ranges.every((x) => Array.isArray(x) && x.length === 2 && natural(x[0]) && natural(x[1]) && BigInt(x[0]) <= BigInt(x[1]))
      ? ranges.map((x) => [BigInt(x[0]), BigInt(x[1])]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) : null;
    if (pairs === null || pairs.some((x, k) => k > 0 && x[0] <= pairs[k - 1][1])) return ["serials", "the retirement's serial range is not [first, last] pairs"];
    if (!pairs.some(([a, b]) => a <= first && last <= b)) return ["serials", `serials ${first}–${last} are not inside the retired range ${pairs.map(([a, b]) => `${a}–${b}`).join(", ")}`];
    if (!(isObject(proof) && Object.keys(proof).sort().join(",") === "index,path,size" && natural(proof.index) && natural(proof.size) &&
      BigInt(proof.index) < BigInt(proof.size) && Array.isArray(proof.path) && proof.path.length <= 64 && proof.path.every(hex64))) {
      return ["sibling hashes", "the proof must be {index, size, path: [64-hex …]} with index < size"];
    }
    if (!(typeof claimHash === "string" && /^0x[0-9a-fA-F]{64}$/.test(claimHash))) return ["sibling hashes", "the retirement's claim hash is not 0x + 64 hex digits"];
    const root = await rootFromInclusion(proof.index, proof.size, await leafHash(canonical(leaf)), proof.path.map(unhex));
    if (root === null || hex(root) !== claimHash.slice(2).toLowerCase()) {
      return ["sibling hashes", `the allocation and its ${proof.path.length} sibling hashes do not lead to the claim hash ${claimHash}`];
    }
    return null;
  }

  async function allocationProblems(body, found, ranges, rid) {
    const leaf = get(body.allocation, "leaf");
    if (!isObject(leaf) || get(leaf, "account_commitment") !== get(body.fields, "account")) {
      return [`${rid}: allocation (account commitment): the allocation is not the certificate's account's`];
    }
    if (!found.claim_hash) return [`${rid}: allocation: this evidence gives no claim hash to check the allocation against`];
    const failure = await allocationFailure(leaf, get(body.allocation, "proof"), found.claim_hash, ranges);
    return failure === null ? [] : [`${rid}: allocation (${failure[0]}): ${failure[1]}`];
  }

  async function retirementsCheck(body, node, disclosed) {
    const problems = [];
    const kase = await expectedCase(body, disclosed);
    if (kase && kase.problem) problems.push(kase.problem);
    for (const r of body.retirements) {
      const rid = `${r.tx_hash}#${r.log_index}`;
      const ranges = r.serial_ranges;
      const wellFormedRanges = ranges.every((x) => Array.isArray(x) && x.length === 2 && natural(x[0]) && natural(x[1]) && BigInt(x[0]) <= BigInt(x[1]));
      if (!wellFormedRanges || ranges.reduce((s, x) => s + BigInt(x[1]) - BigInt(x[0]) + 1n, 0n) !== BigInt(r.amount_kg)) {
        problems.push(`${rid}: its serial ranges do not add up to its amount`);
        continue;
      }
      const chainId = await node.chainId();
      if (!sameInt(get(r, "chain_id"), chainId) || str(get(r, "registry")).toLowerCase() !== node.registry) {
        problems.push(`${rid}: names another chain or registry`);
        continue;
      }
      const found = await node.retirement(r.tx_hash.toLowerCase(), r.log_index);
      if (found === null) {
        problems.push(`${rid}: no such retirement event on chain`);
        continue;
      }
      const differ = [
        ["batch", BigInt(r.batch_id) === found.batch_id],
        ["holder", str(get(r, "holder")).toLowerCase() === found.holder],
        ["amount", BigInt(r.amount_kg) === found.amount],
        ["beneficiary commitment", get(r, "beneficiary_commitment") === found.beneficiary_commitment],
        ["scenario", body.scenario === found.scenario],
      ].filter(([, same]) => !same).map(([name]) => name);
      if (differ.length) problems.push(`${rid}: its ${differ.join(", ")} differ(s) from the event on chain`);
      else if (has(body, "allocation")) problems.push(...await allocationProblems(body, found, ranges, rid));
      if (kase && kase.claimHash && found.claim_hash !== kase.claimHash) {
        problems.push(`${rid}: its claim hash on chain does not commit to the case this certificate names ` +
          "(court, case number, judgment date, damages, rule or obligation differ)");
      }
    }
    if (problems.length) return ["retirements", false, problems.join("; ")];
    let detail = `${body.retirements.length} retirement event(s) found on chain (node)`;
    if (kase) {
      detail += kase.hidden.length ? `; the case reference could not be compared (hidden fields: ${kase.hidden.join(", ")})`
        : "; each commits by its claim hash to the disclosed case";
    }
    return ["retirements", true, detail];
  }

  async function read(name, check) {
    try {
      return await check();
    } catch (e) {
      if (e instanceof EvidenceError) return [name, false, `could not be read: ${e.message}`, true];
      throw e;
    }
  }

  function verdictOf(checks, pending) {
    const failed = checks.filter((c) => !c.ok).map((c) => c.name);
    let verdict = "invalid";
    if (!failed.length) verdict = "valid";
    else if (pending && failed.every((n) => n === "inclusion" || n === "anchor")) verdict = "pending";
    else if (failed.length === 1 && failed[0] === "revocation" && !checks.some((c) => c.unreadable)) verdict = "revoked";
    return verdict;
  }

  // The verdict on the document `text` (JSON as pasted), checked against the node at `nodeUrl`.
  // `registry`: the registry the person trusts; empty: the one the document names (shown as such).
  async function verify(text, nodeUrl, registry = "", {timeoutMs = 10000} = {}) {
    const started = performance.now();
    let doc;
    try {
      doc = parse(text);
    } catch (e) {
      return {error: `不是有效的 JSON · Not valid JSON: ${e.message}`};
    }
    const checks = [];
    const add = ([name, ok, detail, unreadable = false]) => checks.push({name, ok, detail, unreadable, title_zh: CHECKS[name][0], title_en: CHECKS[name][1]});
    const problem = shape(doc);
    const body = isObject(doc) && isObject(get(doc, "certificate")) ? doc.certificate : {};
    const issuer = isObject(get(body, "issuer")) ? body.issuer : {};
    const trusted = (registry || str(get(issuer, "registry"))).trim();
    const result = {certificate_id: typeof get(body, "id") === "string" ? body.id : null, checks, node: nodeUrl,
      registry: trusted, registry_pinned: Boolean(registry)};
    if (problem) {
      add(["format", false, problem]);
      return {...result, verdict: "invalid", failed: ["format"], ms: performance.now() - started, calls: 0};
    }
    add(["format", true, FORMAT]);
    const node = new Node(nodeUrl, trusted, str(get(issuer, "revocations")), timeoutMs);
    const proof = doc.proof;
    const disclosed = has(doc, "disclosed") ? doc.disclosed : {};
    let leaf = null, leafProblem = null;
    try {
      leaf = await certificateLeaf(body);
    } catch (e) {
      if (!(e instanceof CanonicalError)) throw e;
      leafProblem = `the certificate cannot be hashed: ${e.message}`;
    }
    // the node's answers are awaited together: four round trips in flight at once, not one after another
    const [issuerResult, anchorResult, retirementsResult, revocationResult] = await Promise.all([
      read("issuer", async () => {
        const chainId = await node.chainId();
        const same = str(get(issuer, "registry")).toLowerCase() === node.registry && sameInt(issuer.chain_id, chainId);
        return ["issuer", same, same ? `registry ${issuer.registry} on chain ${issuer.chain_id}` :
          `issued by ${issuer.registry} on chain ${issuer.chain_id}, but this verifier checks ${node.registry} on chain ${chainId}`];
      }),
      read("anchor", () => anchorCheck(proof, node)),
      read("retirements", () => retirementsCheck(body, node, disclosed)),
      read("revocation", async () => {
        const revoked = leaf !== null && await node.revoked(hex(leaf));
        return ["revocation", !revoked, revoked ? "revoked by the registry" : "not on the revocation list (node)"];
      }),
    ]);
    add(issuerResult);
    add(await fieldsCheck(body, disclosed, await reportHashProblem(doc)));
    add(claimCheck(doc));
    const beneficiary = get(body.fields, "beneficiary");
    const mismatched = body.retirements.filter((r) => get(r, "beneficiary_commitment") !== `0x${beneficiary}`).map((r) => show(get(r, "id")));
    add(["beneficiary", beneficiary !== undefined && !mismatched.length, beneficiary && !mismatched.length ?
      "every retirement commits to the certificate's beneficiary" : `retirement ${mismatched.join(", ")} commits to another beneficiary`]);
    add(leafProblem ? ["inclusion", false, leafProblem] : await inclusionCheck(leaf, proof));
    add(anchorResult); add(retirementsResult); add(revocationResult);
    const verdict = verdictOf(checks, proof === null);
    return {...result, verdict, failed: checks.filter((c) => !c.ok).map((c) => c.name), ms: performance.now() - started, calls: node.calls};
  }

  return {parse, canonical, canonicalText, CanonicalError, JsonFloat, sha256, hex, unhex, leafHash, nodeHash, commitment,
    rootFromInclusion, verify, SCENARIOS, ORDER, CHECKS};
})();

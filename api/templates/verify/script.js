const VERDICTS = {
  valid: ["证书有效", "The certificate is valid"],
  invalid: ["证书无效", "The certificate is NOT valid"],
  revoked: ["证书已被撤销", "The certificate has been revoked"],
  pending: ["等待日志锚定，稍后再核验", "Awaiting the log's anchoring: verify again later"],
};
const el = (id) => document.getElementById(id);
function text(tag, content, cls) { const e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; }
function tonnes(kg) { return (kg / 1000).toFixed(3); }
function show(result, doc) {
  const v = el("verdict"); const [zh, en] = VERDICTS[result.verdict] || ["无法核验", "Cannot verify"];
  v.className = result.verdict; v.textContent = `${zh} · ${en}`; v.dataset.verdict = result.verdict;
  const summary = el("summary"); summary.replaceChildren();
  const body = doc && doc.certificate;
  if (body && body.claim) {
    summary.append(text("dt", "证书编号 Certificate"), text("dd", body.id || ""));
    summary.append(text("dt", "注销量 Retired"), text("dd", `${tonnes(body.claim.quantity_kg || 0)} tCO2e`));
    // each batch's monitoring report and breakdown, recomputed by the server (404 when it has none)
    for (const batch of [...new Set((body.retirements || []).map((r) => r.batch_id))]) {
      const link = text("a", `批次 ${batch} 计量明细 · Batch ${batch}: monitoring breakdown`, "monitoring");
      link.href = `/api/v1/batches/${encodeURIComponent(batch)}/monitoring`; link.dataset.batch = batch;
      const dd = document.createElement("dd"); dd.append(link);
      summary.append(text("dt", "批次 Batch"), dd);
    }
  }
  checkRows(el("checks"), result.checks);
}
function checkRows(table, checks) {
  table.replaceChildren();
  for (const c of checks) {
    const tr = document.createElement("tr"); tr.dataset.check = c.name; tr.dataset.ok = c.ok;
    if (c.unreadable) tr.dataset.unreadable = "true";
    tr.append(text("td", c.ok ? "✓" : c.unreadable ? "?" : "×", "mark"));
    const title = document.createElement("td"); title.append(text("div", c.title_zh), text("div", c.title_en, "en"));
    tr.append(title, text("td", c.detail, "detail")); table.append(tr);
  }
}
function fail(message, verdict = "error") {
  const v = el("verdict"); v.className = "invalid"; v.dataset.verdict = verdict; v.textContent = message; el("checks").replaceChildren();
}
async function verifyText(raw, {server = true} = {}) {
  let doc; try { doc = JSON.parse(raw); } catch (e) { return fail("不是有效的 JSON · Not valid JSON: " + e.message); }
  await Promise.all([server ? verifyOnServer(raw, doc) : skipServer(), verifyInBrowser(raw)]);
  compareVerdicts();
}
async function verifyOnServer(raw, doc) {
  let r, result;
  try {
    r = await fetch("/api/v1/verify", {method: "POST", headers: {"Content-Type": "application/json"}, body: raw});
    result = await r.json();
  } catch (e) {
    return fail(`服务器核验不可用 · The server's verification is unavailable: ${e.message}`, "unavailable");
  }
  if (r.status === 404 || r.status === 405) return fail(`服务器核验不可用 · The server's verification is unavailable (${r.status})`, "unavailable");
  if (!r.ok) return fail(`${result.title}: ${result.detail}`);
  show(result, doc);
}
function skipServer() {
  const v = el("verdict"); v.className = "pending"; v.dataset.verdict = "skipped"; v.textContent = "未询问服务器 · The server was not asked";
  el("checks").replaceChildren();
}
async function openById(id) {
  const r = await fetch(`/api/v1/certificates/${encodeURIComponent(id)}`);
  const doc = await r.json();
  if (!r.ok) return fail(`未找到证书 · ${doc.detail}`);
  const raw = JSON.stringify(doc, null, 2); el("doc").value = raw; await verifyText(raw);
}
el("verify").onclick = () => verifyText(el("doc").value);
el("open").onclick = () => openById(el("certid").value.trim());
el("file").onchange = async (e) => { const f = e.target.files[0]; if (f) { const raw = await f.text(); el("doc").value = raw; await verifyText(raw); } };
const m = location.pathname.match(/^\/verify\/([^/]+)$/);
if (m) { el("certid").value = decodeURIComponent(m[1]); openById(decodeURIComponent(m[1])); }
// ---- the in-browser verifier's panel (inbrowser.js does the checking)
let blocked = null;  // a connection this page's Content-Security-Policy refused: the node is not one it may ask
document.addEventListener("securitypolicyviolation", (e) => { if (e.violatedDirective.startsWith("connect-src")) blocked = e.blockedURI; });
async function verifyInBrowser(raw) {
  const v = el("bverdict"), url = el("node").value.trim();
  el("bchecks").replaceChildren(); delete v.dataset.verdict; delete v.dataset.reason;
  if (!url) { v.className = "pending"; v.dataset.verdict = "skipped"; v.textContent = "未填写节点，未在浏览器中核验 · No node given: not verified in this browser"; return; }
  v.className = "pending"; v.textContent = `正在询问节点 · Asking ${url} …`;
  blocked = null;
  let result;
  try {
    result = await LedgerVerifier.verify(raw, url, el("registry").value.trim());
  } catch (e) {
    v.className = "invalid"; v.dataset.verdict = "error"; v.textContent = `浏览器无法核验 · This browser cannot verify: ${e.message}`; return;
  }
  if (result.error) { v.className = "invalid"; v.dataset.verdict = "error"; v.textContent = result.error; return; }
  const [zh, en] = VERDICTS[result.verdict];
  const unreadable = result.checks.filter((c) => c.unreadable);
  // Chromium rejects the fetch before it reports the policy violation: wait for the report
  if (unreadable.length && !blocked) await new Promise((resolve) => setTimeout(resolve, 100));
  // the chain could not be read: the verdict is "invalid" (docs/certificate-format.md §8), but what the
  // person needs to hear first is that this browser could not check, and why
  const unchecked = "未能在浏览器中核验 · Not verified in this browser";
  let line = `${zh} · ${en}`;
  if (blocked) {
    v.dataset.reason = "blocked";
    line = `${unchecked} — 本页不允许连接该节点 · this page may not connect to ${url}: its operator lists the nodes it may ask ` +
      "(LEDGER_VERIFY_NODES); for any other node run `ledger verify FILE --rpc URL`";
  } else if (unreadable.length) {
    v.dataset.reason = "unreachable";
    line = `${unchecked} — 无法读取节点 · could not read the node: ${unreadable[0].detail.replace(/^could not be read: /, "")}`;
  }
  const notes = [];
  if (!v.dataset.reason) notes.push(`${Math.round(result.ms)} ms, ${result.calls} 次节点请求 node calls`);
  if (!result.registry_pinned && result.checks.length > 1) notes.push(`信任证书所载登记簿 trusting the registry the document names, ${result.registry}`);
  v.className = v.dataset.reason ? "pending" : result.verdict; v.textContent = line; v.dataset.verdict = result.verdict;
  if (notes.length) v.append(text("div", notes.join(" · "), "note"));
  v.dataset.ms = result.ms.toFixed(1);
  checkRows(el("bchecks"), result.checks);
}
function compareVerdicts() {
  const a = el("verdict").dataset.verdict, b = el("bverdict").dataset.verdict, out = el("agreement");
  const known = (x) => x && x in VERDICTS;
  if (!known(a) || !known(b)) { out.textContent = ""; delete out.dataset.agree; return; }
  if (el("bverdict").dataset.reason) {  // the node could not be read: there is no second verdict to compare
    delete out.dataset.agree;
    out.textContent = "浏览器未能读取节点，无从比较 · This browser could not read the node: nothing to compare";
    return;
  }
  out.dataset.agree = String(a === b);
  out.textContent = a === b ? "服务器与浏览器的结论一致 · The server and this browser agree" :
    "服务器与浏览器的结论不同：请以你信任的节点为准 · The server and this browser DISAGREE: trust the node you chose";
}
el("verify-browser").onclick = () => verifyText(el("doc").value, {server: false});

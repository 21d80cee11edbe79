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
  const table = el("checks"); table.replaceChildren();
  for (const c of result.checks) {
    const tr = document.createElement("tr"); tr.dataset.check = c.name; tr.dataset.ok = c.ok;
    tr.append(text("td", c.ok ? "✔" : "✘", "mark"));
    const title = document.createElement("td"); title.append(text("div", c.title_zh), text("div", c.title_en, "en"));
    tr.append(title, text("td", c.detail, "detail")); table.append(tr);
  }
}
function fail(message) {
  const v = el("verdict"); v.className = "invalid"; v.dataset.verdict = "error"; v.textContent = message; el("checks").replaceChildren();
}
async function verifyText(raw) {
  let doc; try { doc = JSON.parse(raw); } catch (e) { return fail("不是有效的 JSON · Not valid JSON: " + e.message); }
  const r = await fetch("/api/v1/verify", {method: "POST", headers: {"Content-Type": "application/json"}, body: raw});
  const result = await r.json();
  if (!r.ok) return fail(`${result.title}: ${result.detail}`);
  show(result, doc);
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

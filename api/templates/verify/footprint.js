// The disclosed footprint report's breakdown (a chart drawn by the server, the numbers beside it) and the
// claim's conversion rule. It watches the server's verdict: each new verdict is of the document in #doc.
(() => {
  const $ = (id) => document.getElementById(id);
  const cell = (tag, content, cls) => { const e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; };
  const kg = (n) => `${Number(n).toLocaleString("en-US")} kg`;
  let shown = null;
  function clear() {
    $("footprint-breakdown").hidden = true; $("footprint-chart").replaceChildren(); $("footprint-numbers").replaceChildren();
  }
  function showRule(claim) {
    const line = $("conversion-rule"); const rule = claim && claim.rule;
    if (rule && typeof rule.sha256 === "string") {
      line.textContent = `换算规则 / Conversion rule: ${rule.id}@${rule.version} · sha256 ${rule.sha256.slice(0, 16)}…`;
      line.hidden = false;
    } else { line.textContent = ""; line.hidden = true; }
  }
  async function render() {
    const raw = $("doc").value;
    if (raw === shown) return;
    shown = raw;
    let doc = null; try { doc = JSON.parse(raw); } catch (e) { doc = null; }
    showRule(doc && doc.certificate && doc.certificate.claim);
    const report = doc && doc.footprint_report;
    // only a report the document discloses: its hash field opened and the report carried with it
    if (!report || !doc.disclosed || !doc.disclosed.footprint_report_sha256 || !Array.isArray(report.categories)) return clear();
    const r = await fetch("/api/v1/footprints/breakdown", {method: "POST", headers: {"Content-Type": "application/json"}, body: raw});
    if (raw !== shown) return;  // another document came meanwhile
    if (!r.ok) return clear();
    const drawn = await r.json();  // the bars' numbers and the SVG the server drew of them
    // in the page, not an <img>: an image may not load the page's web font, and Chinese would be boxes
    const image = new DOMParser().parseFromString(drawn.svg, "image/svg+xml").documentElement;
    if (image.namespaceURI !== "http://www.w3.org/2000/svg") return clear();
    $("footprint-chart").replaceChildren(document.importNode(image, true));
    const table = $("footprint-numbers"); table.replaceChildren();
    for (const b of drawn.bars) {
      const tr = document.createElement("tr"); tr.dataset.category = b.category;
      const name = document.createElement("td"); name.append(cell("div", b.zh || b.category), cell("div", b.en, "en"));
      tr.append(name, cell("td", kg(b.kgco2e), "num"), cell("td", b.share, "num"));
      table.append(tr);
    }
    const tr = document.createElement("tr"); tr.className = "total"; tr.dataset.category = "total";
    tr.append(cell("td", "合计 Total"), cell("td", kg(drawn.total_kgco2e), "num"), cell("td", drawn.illustrative ? "* 含示意因子 illustrative" : ""));
    table.append(tr);
    $("footprint-method").textContent = `${drawn.subject} · ${drawn.method}`;
    $("footprint-breakdown").hidden = false;
  }
  function caption() {  // the numbers are the report's own: say so when the certificate did not verify
    const verdict = $("verdict").dataset.verdict;
    $("footprint-unverified").hidden = verdict === "valid";
  }
  new MutationObserver(() => { caption(); render(); }).observe($("verdict"), {childList: true, attributes: true, characterData: true, subtree: true});
})();

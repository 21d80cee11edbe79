const el = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
function text(tag, content, cls) { const e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; }
function input(cls, value, size) { const e = document.createElement("input"); e.className = cls; e.value = value || ""; if (size) e.size = size; return e; }
function categoryOptions() { return document.querySelector(`select.categories[data-subject="${el("subject").value}"]`).options; }
function addLine(line) {
  line = line || {};
  const tr = document.createElement("tr"); tr.className = "line";
  const activity = document.createElement("select"); activity.className = "activity";
  for (const o of el("activities").options) activity.append(o.cloneNode(true));
  if (line.activity) activity.value = line.activity;
  const unit = input("unit", line.unit || activity.selectedOptions[0].dataset.unit, 8);
  activity.onchange = () => { unit.value = activity.selectedOptions[0].dataset.unit; };
  const category = document.createElement("select"); category.className = "category";
  for (const o of categoryOptions()) category.append(o.cloneNode(true));
  category.value = line.category || "";
  const remove = text("button", "×"); remove.type = "button"; remove.title = "删除 Remove"; remove.onclick = () => tr.remove();
  const cells = [activity, input("quantity", line.quantity, 10), unit, input("passengers", line.passengers, 6), category,
    input("label", line.label, 24), remove];
  for (const c of cells) { const td = document.createElement("td"); td.append(c); tr.append(td); }
  el("lines").tBodies[0].append(tr);
}
function refreshCategories() {
  for (const select of document.querySelectorAll("#lines select.category")) {
    const kept = select.value; select.replaceChildren(...[...categoryOptions()].map((o) => o.cloneNode(true)));
    select.value = [...select.options].some((o) => o.value === kept) ? kept : "";
  }
}
function activityData() {
  const data = {subject: el("subject").value, region: el("region").value.trim(), year: Number(el("year").value), lines: []};
  const title = el("title").value.trim(); if (title) data.title = title;
  const multiplier = el("multiplier").value.trim(); if (multiplier) data.aviation_multiplier = multiplier;
  const units = el("units").value.trim(); if (data.subject === "product" && units) data.units = units;
  const area = el("floor-area").value.trim(); if (data.subject === "building" && area) data.floor_area_m2 = area;
  for (const tr of el("lines").tBodies[0].rows) {
    const value = (cls) => tr.querySelector("." + cls).value.trim();
    const line = {activity: value("activity"), quantity: value("quantity"), unit: value("unit")};
    if (value("passengers")) line.passengers = Number(value("passengers"));
    if (value("category")) line.category = value("category");
    if (value("label")) line.label = value("label");
    data.lines.push(line);
  }
  return data;
}
function fail(message) {
  const e = el("error"); e.textContent = message; e.className = "shown"; el("result").hidden = true;
  el("result").dataset.state = "error";
}
function chart(categories) {
  const svg = el("chart"); svg.replaceChildren();
  const max = Math.max(1, ...categories.map((c) => c.kgco2e)); const row = 26; const left = 190; const width = 700;
  svg.setAttribute("viewBox", `0 0 ${left + width + 110} ${row * categories.length + 4}`);
  categories.forEach((c, i) => {
    const y = i * row + 2; const w = Math.max(1, Math.round((c.kgco2e / max) * width));
    const label = document.createElementNS(SVG, "text"); label.setAttribute("x", 0); label.setAttribute("y", y + 17);
    label.textContent = `${c.zh} · ${c.en}`;
    const bar = document.createElementNS(SVG, "rect"); bar.setAttribute("class", "bar"); bar.setAttribute("x", left);
    bar.setAttribute("y", y + 3); bar.setAttribute("height", row - 8); bar.setAttribute("width", w);
    bar.dataset.category = c.category; bar.dataset.kg = c.kgco2e;
    const value = document.createElementNS(SVG, "text"); value.setAttribute("x", left + w + 6); value.setAttribute("y", y + 17);
    value.textContent = `${c.kgco2e.toLocaleString("en")} kg`;
    svg.append(label, bar, value);
  });
}
function show(output) {
  const r = output.report; el("error").className = ""; el("error").textContent = "";
  el("result-title").textContent = r.title || `${r.method.title} · ${r.region} ${r.year}`;
  el("total").textContent = r.total_kgco2e.toLocaleString("en"); el("total").dataset.kg = r.total_kgco2e;
  el("tonnes").textContent = (r.total_kgco2e / 1000).toFixed(3);
  chart(r.categories);
  const table = el("report-lines"); table.replaceChildren();
  const head = document.createElement("tr");
  for (const h of ["#", "类别 Category", "说明 Label", "数量 Quantity", "因子 Factor", "kgCO2e"]) head.append(text("th", h));
  table.append(head);
  const names = Object.fromEntries(r.categories.map((c) => [c.category, `${c.zh} · ${c.en}`]));
  for (const ln of r.lines) {
    const tr = document.createElement("tr"); tr.dataset.activity = ln.activity;
    const factor = `${ln.factor.ref}${ln.factor.illustrative ? "*" : ""} × ${ln.factor.kgco2e_per_unit}`;
    tr.append(text("td", ln.n), text("td", names[ln.category] || ln.category), text("td", ln.label || ln.activity, "label"),
      text("td", `${ln.factor_quantity} ${ln.factor.unit}`, "num"), text("td", factor), text("td", ln.kgco2e.toLocaleString("en"), "num"));
    table.append(tr);
  }
  el("warnings").replaceChildren(...r.warnings.map((w) => text("li", w)));
  const b = r.building;
  el("per").textContent = r.product ? `每件 ${r.product.kgco2e_per_unit} kg · per unit, × ${r.product.units} units`
    : b ? `运行 ${b.operational_kgco2e_per_m2_year} kg/m²·年 · operational per m² a year; 隐含 ${b.embodied_kgco2e_per_m2} kg/m² · embodied per m²`
    : "";
  const multiplier = r.aviation_multiplier.applied ? `航空乘数 ${r.aviation_multiplier.value} · aviation multiplier applied` : "未使用航空乘数 · CO2 only";
  el("method").textContent = `${r.method.id}@${r.method.version}; ${multiplier}; ${r.rounding}; sha256 ${output.sha256}`;
  el("retire-kg").textContent = r.total_kgco2e.toLocaleString("en");
  const json = JSON.stringify(output, null, 2); el("report-json").value = json;
  el("download").href = URL.createObjectURL(new Blob([json], {type: "application/json"}));
  el("result").hidden = false; el("result").dataset.state = "done";
}
async function compute(event) {
  event.preventDefault(); delete el("result").dataset.state;
  let r;
  try {
    r = await fetch("/api/v1/footprints", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(activityData())});
  } catch (e) { return fail("无法连接服务器 · Cannot reach the server: " + e.message); }
  const answer = await r.json().catch(() => null);
  if (!answer) return fail(`服务器错误 · Server error ${r.status}`);
  if (!r.ok) return fail(`${answer.title || r.status}: ${answer.detail || ""}`);
  show(answer);
}
const HOUSEHOLD = [
  {activity: "grid-electricity", quantity: "1200", unit: "kWh", label: "家庭用电 home electricity"},
  {activity: "natural-gas", quantity: "200", unit: "m3", label: "做饭和热水 cooking and hot water"},
  {activity: "car-passenger", quantity: "8000", unit: "pkm", label: "家用车 the family car"},
];
function refreshSubject() {
  el("for-product").hidden = el("subject").value !== "product"; el("for-building").hidden = el("subject").value !== "building";
  refreshCategories();
}
el("subject").onchange = refreshSubject;
el("add").onclick = () => addLine();
el("example-person").onclick = () => {
  el("subject").value = "person"; el("region").value = "510104"; el("year").value = "2025";
  el("lines").tBodies[0].replaceChildren(); for (const line of HOUSEHOLD) addLine(line);
};
el("form").onsubmit = compute;
addLine();

// Chromium does not lay out again some text it laid out before the web font (fonts.css) began to
// load: a button stayed boxes on a machine without a CJK font. Once the font is in, lay the page out again.
document.fonts.addEventListener("loadingdone", () => { const b = document.body; b.style.display = "none"; void b.offsetWidth; b.style.display = ""; });

import { escapeHtml } from './escape.js';

/**
 * The name in every page's header and title.
 *
 * @example
 * `<title>sample · ${REGISTRY_NAME}</title>`
 */
export const REGISTRY_NAME = 'cmpkg registry';

/**
 * What {@link renderLayout} wraps.
 *
 * @example
 * const options: LayoutOptions = { title: 'sample', body: '<h1>sample</h1>' };
 */
export interface LayoutOptions {
  /** Plain text (escaped here); the registry name is appended. */
  title: string;
  /** Trusted HTML: every page builds it from escaped parts. */
  body: string;
  /** The current search text, shown in the search box (escaped here). */
  query?: string;
}

// Inline only: the CSP allows no stylesheet URL, and one small block keeps the page a single request.
// Risk colours always come with the risk word, so the colour is never the only signal.
const STYLE = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--accent:#0b57d0;
--low:#1a7f37;--medium:#9a6700;--high:#cf222e;--critical:#7d0a12}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;--line:#3d444d;
--accent:#6cb6ff;--low:#3fb950;--medium:#d29922;--high:#f85149;--critical:#ff7b72}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
header.site{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:center;justify-content:space-between;
padding:.75rem 1.25rem;border-bottom:1px solid var(--line);background:var(--panel)}
header.site .brand{font-weight:700;font-size:1.15rem;text-decoration:none;color:var(--fg)}
form.search{display:flex;gap:.5rem;align-items:center;flex:1 1 18rem;max-width:36rem}
form.search label{font-size:.9rem;color:var(--muted);white-space:nowrap}
form.search input{flex:1;min-width:0;padding:.45rem .6rem;font:inherit;border:1px solid var(--line);border-radius:6px;
background:var(--bg);color:var(--fg)}
form.search button{padding:.45rem .9rem;font:inherit;border:1px solid var(--line);border-radius:6px;background:var(--bg);
color:var(--fg);cursor:pointer}
main{max-width:64rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.6rem;margin:.25rem 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.75rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
.muted{color:var(--muted)}
.lead{font-size:1.05rem;margin:.25rem 0 1rem}
ol.plugins{list-style:none;padding:0;margin:0}
ol.plugins li{padding:.85rem 0;border-bottom:1px solid var(--line)}
ol.plugins .title{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline}
ol.plugins .name{font-weight:700;font-size:1.05rem;overflow-wrap:anywhere}
ol.plugins p{margin:.25rem 0}
.meta{display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem;color:var(--muted)}
nav.pagination{display:flex;gap:1rem;justify-content:space-between;align-items:center;margin:1rem 0}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;overflow-x:auto;
white-space:pre-wrap;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid currentColor;
white-space:nowrap}
.badge.tag{color:var(--accent)}
.badge.deprecated{color:var(--medium)}
.badge.yanked{color:var(--high)}
.risk{display:inline-block;padding:0 .5rem;border-radius:4px;font-size:.85rem;font-weight:700;color:#fff;
text-transform:uppercase;letter-spacing:.02em}
.risk-low{background:#1a7f37}
.risk-medium{background:#9a6700}
.risk-high{background:#cf222e}
.risk-critical{background:#7d0a12}
.risk-unknown{background:#59636e}
.empty{padding:2rem 0;text-align:center;color:var(--muted);font-size:1.1rem}
@media (max-width:40rem){main{padding:.85rem}dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4rem}}
`
  .trim()
  .replace(/\n/g, '');

/**
 * Wraps a page body in the HTML5 shell: head, inline CSS, and a header with the registry name
 * (linking to `/`) and the search form. There is no JavaScript: the search form is a plain GET form.
 *
 * @example
 * const html = renderLayout({ title: 'Plugins', body: '<h1>Plugins</h1>', query: 'sample' });
 */
export function renderLayout(options: LayoutOptions): string {
  const title = options.title === '' ? REGISTRY_NAME : `${options.title} · ${REGISTRY_NAME}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="site">
<a class="brand" href="/">${escapeHtml(REGISTRY_NAME)}</a>
<form class="search" method="get" action="/" role="search">
<label for="q">Search plugins</label>
<input id="q" name="q" type="search" value="${escapeHtml(options.query ?? '')}" placeholder="id, name or description" maxlength="200">
<button type="submit">Search</button>
</form>
</header>
<main>
${options.body}
</main>
</body>
</html>
`;
}

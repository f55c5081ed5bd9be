// The page of `nnderive serve`: an editor on the left, the live derivation
// on the right. Everything the server sends is data: it goes into the page
// as text nodes (textContent) or through KaTeX with trust off, never as
// HTML, so a name or comment holding markup shows as its characters.
'use strict';

const $ = (id) => document.getElementById(id);
const source = $('source');
const highlight = $('highlight');
const gutterLines = $('gutter-lines');
const layer = $('layer');
const marks = $('marks');
const output = $('output');
const problems = $('problems');

const KEYWORDS = new Set(['input', 'target', 'param', 'const', 'fn', 'loss', 'train', 'steps', 'for']);
const DEBOUNCE_MS = 40;

const state = {
  name: '',
  saveable: false,
  saved: null, // the text last saved or opened, to mark unsaved edits
  sequence: 0, // the latest derivation asked for
  shown: 0, // the latest derivation shown
  timer: 0,
  tab: 'solution',
  good: false, // whether a derivation has been shown
  documents: null, // the last good derivation's documents, by tab
  typeset: {}, // the tabs whose document is typeset
  editAt: 0,
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- The editor ------------------------------------------------------

// One line's tokens: comments, keywords, numbers, calls, operators.
const TOKEN = /(#.*$)|([A-Za-z_][A-Za-z0-9_']*)(\s*\()?|(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|([@=+\-*\/^<>])/g;

function highlightLine(line, into) {
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let m; (m = TOKEN.exec(line)) !== null;) {
    if (m[0] === '') { TOKEN.lastIndex += 1; continue; }
    if (m.index > last) into.appendChild(document.createTextNode(line.slice(last, m.index)));
    let cls = '';
    let text = m[0];
    if (m[1] !== undefined) cls = 'tok-com';
    else if (m[2] !== undefined) {
      text = m[2];
      cls = KEYWORDS.has(m[2]) ? 'tok-kw' : (m[3] !== undefined ? 'tok-call' : '');
    } else if (m[4] !== undefined) cls = 'tok-num';
    else cls = 'tok-op';
    into.appendChild(cls ? el('span', cls, text) : document.createTextNode(text));
    last = m.index + text.length;
    TOKEN.lastIndex = last;
  }
  if (last < line.length) into.appendChild(document.createTextNode(line.slice(last)));
}

function paintEditor() {
  const lines = source.value.split('\n');
  const frag = document.createDocumentFragment();
  lines.forEach((line, i) => {
    highlightLine(line, frag);
    if (i + 1 < lines.length) frag.appendChild(document.createTextNode('\n'));
  });
  // A last empty line still takes its height.
  frag.appendChild(document.createTextNode('\n'));
  highlight.replaceChildren(frag);
  gutterLines.textContent = lines.map((_, i) => String(i + 1)).join('\n');
  syncScroll();
}

function syncScroll() {
  const x = source.scrollLeft;
  const y = source.scrollTop;
  layer.style.transform = `translate(${-x}px, ${-y}px)`;
  gutterLines.style.transform = `translateY(${-y}px)`;
}

// The size of one character and one line of the editor's font, to place
// the error marks at a line and column.
function cell() {
  const probe = el('span', '', 'M'.repeat(10));
  highlight.appendChild(probe);
  const box = probe.getBoundingClientRect();
  probe.remove();
  const lineHeight = parseFloat(getComputedStyle(highlight).lineHeight);
  return { width: box.width / 10, height: lineHeight };
}

function columnsOf(text) {
  // Tabs move to the next multiple of 4, as the textarea shows them.
  let col = 0;
  for (const ch of text) col = ch === '\t' ? col + 4 - (col % 4) : col + 1;
  return col;
}

// Each error's underline at its place, and its message with its help
// under the line and column it names.
function showMarks(errors) {
  marks.replaceChildren();
  const lines = source.value.split('\n');
  const { width, height } = cell();
  const used = new Set();
  const bytes = new TextEncoder().encode(source.value);
  for (const e of errors) {
    if (!e.line || !e.column || used.has(e.line)) continue;
    used.add(e.line);
    const line = lines[e.line - 1] || '';
    const before = line.slice(0, e.column - 1);
    const startCol = columnsOf(before);
    // The span's text, from its byte offsets into the UTF-8 text.
    let spanText = line.slice(e.column - 1, e.column);
    if (typeof e.start === 'number' && typeof e.end === 'number' && e.end > e.start && (e.end_line || e.line) === e.line) {
      spanText = new TextDecoder().decode(bytes.slice(e.start, e.end));
    }
    const cols = Math.max(1, columnsOf(before + spanText) - startCol);
    const under = el('div', 'underline');
    under.style.left = `${startCol * width}px`;
    under.style.top = `${(e.line - 1) * height}px`;
    under.style.width = `${cols * width}px`;
    marks.appendChild(under);
    const note = el('div', 'error-note');
    note.dataset.line = String(e.line);
    note.dataset.column = String(e.column);
    note.appendChild(el('span', 'message', e.label ? `${e.message}: ${e.label}` : e.message));
    if (e.help) note.appendChild(el('span', 'help', `help: ${e.help}`));
    note.style.left = `${startCol * width}px`;
    note.style.top = `${e.line * height + 4}px`;
    marks.appendChild(note);
  }
}

// ---- Deriving ----------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ refused: `the server answered ${response.status}` }));
  if (!response.ok) throw new Error(data.refused || `the server answered ${response.status}`);
  return data;
}

function roundValue() {
  const v = $('round').value;
  return v === '' ? null : Number(v);
}

function scheduleDerive() {
  clearTimeout(state.timer);
  state.editAt = performance.now();
  state.timer = setTimeout(derive, DEBOUNCE_MS);
}

async function derive() {
  const sequence = ++state.sequence;
  const startedAt = state.editAt || performance.now();
  document.body.dataset.deriving = 'true';
  let data;
  try {
    data = await post('/api/derive', { text: source.value, round: roundValue() });
  } catch (e) {
    if (sequence === state.sequence) showProblems([], e.message);
    return;
  }
  if (sequence < state.shown) return;
  state.shown = sequence;
  if (sequence === state.sequence) delete document.body.dataset.deriving;
  if (!data.ok) {
    const errors = data.errors.errors || [];
    showMarks(errors);
    showProblems(errors);
    output.classList.toggle('stale', state.good);
  } else {
    const solveErrors = data.solve_errors ? data.solve_errors.errors || [] : [];
    showMarks(solveErrors);
    showProblems(solveErrors, solveErrors.length ? 'The file derives, but cannot be solved:' : '');
    output.classList.remove('stale');
    // Only the document in view is typeset now (typesetting is most of an
    // edit's time); the other is typeset when its tab is opened.
    state.documents = { solution: data.solution, derivation: data.derivation };
    state.typeset = {};
    showDocument(state.tab);
    $('values').textContent = data.values || '';
    state.good = true;
    document.body.dataset.derived = String(sequence);
    if (state.tab === 'graph') loadGraph();
  }
  const total = performance.now() - startedAt;
  $('timing').textContent = `derived in ${Math.round(total)} ms (server ${data.ms.toFixed(1)} ms)`;
}

function showProblems(errors, heading) {
  problems.replaceChildren();
  if (heading) problems.appendChild(el('div', 'summary', heading));
  else if (errors.length) problems.appendChild(el('div', 'summary', errors.length === 1 ? '1 error; the last good derivation is shown dimmed' : `${errors.length} errors; the last good derivation is shown dimmed`));
  for (const e of errors) problems.appendChild(el('pre', '', e.rendered || e.message));
}

// ---- Rendering the documents ------------------------------------------

function math(tex, displayMode) {
  const node = el(displayMode ? 'div' : 'span', displayMode ? 'display' : 'math');
  // trust: false keeps \href, \url, \htmlClass and friends off; user names
  // reach KaTeX only as identifiers and escaped text.
  katex.render(tex, node, { displayMode, throwOnError: false, trust: false, strict: 'ignore', output: 'htmlAndMathml' });
  return node;
}

function inline(parts, into) {
  for (const p of parts) {
    if (p.math !== undefined) into.appendChild(math(p.math, false));
    else into.appendChild(document.createTextNode(p.text));
  }
  return into;
}

function renderDocument(into, blocks) {
  const frag = document.createDocumentFragment();
  for (const b of blocks) {
    switch (b.kind) {
      case 'section': frag.appendChild(el('h2', '', b.text)); break;
      case 'subsection': frag.appendChild(inline(b.inline, el('h3'))); break;
      case 'paragraph': frag.appendChild(inline(b.inline, el('p'))); break;
      case 'display': frag.appendChild(math(b.latex, true)); break;
      case 'list': {
        const ul = el('ul');
        for (const item of b.items) ul.appendChild(inline(item, el('li')));
        frag.appendChild(ul);
        break;
      }
      case 'table': {
        const table = el('table');
        const head = el('tr');
        for (const h of b.header) head.appendChild(el('th')).appendChild(math(h, false));
        table.appendChild(head);
        for (const row of b.rows) {
          const tr = el('tr');
          const cells = row || b.header.map(() => '\\vdots');
          for (const c of cells) tr.appendChild(el('td')).appendChild(math(c, false));
          table.appendChild(tr);
        }
        frag.appendChild(table);
        break;
      }
      case 'image': {
        if (typeof b.src === 'string' && b.src.startsWith('data:image/svg+xml;base64,')) {
          const img = el('img');
          img.alt = b.alt;
          img.src = b.src;
          frag.appendChild(img);
        }
        break;
      }
      default: break;
    }
  }
  into.replaceChildren(frag);
}

function showDocument(tab) {
  if (!state.documents || !(tab in state.documents) || state.typeset[tab]) return;
  state.typeset[tab] = true;
  const blocks = state.documents[tab];
  if (blocks) renderDocument($(`tab-${tab}`), blocks);
  else {
    $(`tab-${tab}`).replaceChildren(el('p', 'note', 'No worked solution: the file cannot be solved (see above). The derivation is shown under Derivation.'));
  }
}

async function loadGraph() {
  const graph = $('graph');
  try {
    const data = await post('/api/graph', { text: source.value, grad: $('graph-grad').checked });
    if (!data.ok) return; // the errors are shown already; the last graph stays
    if (data.src && data.src.startsWith('data:image/svg+xml;base64,')) {
      const img = el('img');
      img.alt = 'The computational graph of the network';
      img.src = data.src;
      graph.replaceChildren(img);
    } else {
      graph.replaceChildren(el('p', 'note', data.note || ''), el('pre', '', data.dot || ''));
    }
  } catch (e) {
    graph.replaceChildren(el('p', 'note', e.message));
  }
}

// ---- Saving and downloads ----------------------------------------------

function markSaved() {
  const dirty = state.saveable && source.value !== state.saved;
  $('file-name').textContent = state.name + (dirty ? ' •' : '');
  document.title = `${dirty ? '• ' : ''}${state.name} — nnderive`;
}

function status(text, failed) {
  const s = $('save-status');
  s.textContent = text;
  s.classList.toggle('failed', Boolean(failed));
}

async function save() {
  if (!state.saveable) {
    status('nothing to save to: start `nnderive serve FILE`', true);
    return;
  }
  const text = source.value;
  try {
    await post('/api/save', { text });
    state.saved = text;
    status(`saved ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    status(e.message, true);
  }
  markSaved();
}

async function download(format) {
  try {
    const data = await post('/api/export', { text: source.value, round: roundValue(), format });
    if (!data.ok) {
      status(`cannot export: ${(data.errors.errors[0] || {}).message || 'the file has errors'}`, true);
      return;
    }
    const blob = new Blob([data.text], { type: 'text/plain;charset=utf-8' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = data.name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    status(`downloaded ${data.name}`);
  } catch (e) {
    status(e.message, true);
  }
}

// ---- Wiring -------------------------------------------------------------

function showTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll('#tabs button')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  for (const t of document.querySelectorAll('.tab')) t.hidden = t.id !== `tab-${tab}`;
  if (tab === 'graph') loadGraph();
  showDocument(tab);
}

function onEdit() {
  paintEditor();
  markSaved();
  scheduleDerive();
}

async function start() {
  const response = await fetch('/api/start');
  const data = await response.json();
  state.name = data.name;
  state.saveable = data.saveable;
  state.saved = data.text;
  $('save').disabled = !data.saveable;
  const examples = $('examples');
  for (const ex of data.examples) {
    const option = el('option', '', ex.name);
    option.value = ex.name;
    examples.appendChild(option);
  }
  examples.addEventListener('change', () => {
    const ex = data.examples.find((e) => e.name === examples.value);
    examples.value = '';
    if (!ex) return;
    if (state.saveable && source.value !== state.saved && !confirm('Replace your unsaved text with the example?')) return;
    source.value = ex.text;
    if (!state.saveable) state.name = ex.name;
    onEdit();
  });
  source.value = data.text;
  source.addEventListener('input', onEdit);
  source.addEventListener('scroll', syncScroll);
  source.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault();
      save();
    } else if (event.key === 'Tab' && !event.shiftKey) {
      event.preventDefault();
      document.execCommand('insertText', false, '  ');
    }
  });
  $('save').addEventListener('click', save);
  $('round').addEventListener('change', () => { state.editAt = performance.now(); derive(); });
  $('graph-grad').addEventListener('change', loadGraph);
  for (const b of document.querySelectorAll('[data-format]')) b.addEventListener('click', () => download(b.dataset.format));
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  window.addEventListener('resize', () => derive());
  window.addEventListener('beforeunload', (event) => {
    if (state.saveable && source.value !== state.saved) event.preventDefault();
  });
  onEdit();
  source.focus();
}

start();

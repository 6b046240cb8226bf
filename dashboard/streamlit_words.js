// Streamlit's own words in the reader's language, for every page (dashboard/common.py,
// streamlit_words). Streamlit 1.67 writes the file uploader's words ("Upload", "200MB per file",
// "Drag and drop a file here", its error messages and the labels screen readers announce), and
// the date and time fields' labels ("Choose date", "Clear time", each part's "year, …"), in
// English in its front end, with no option to change them. This script rewrites them in place:
// the text nodes and attributes themselves, so what is shown and what a screen reader reads say
// the same thing. It also gives the page its language (WCAG 3.1.1), which Streamlit leaves "en".
//
// Each rewritten node remembers Streamlit's English, so a change of language translates again
// from the original, and a node Streamlit redraws is translated again. The words come from
// dashboard/strings.py (WORDS below is filled in by the server; no one's text ever goes here).
// No "less than" sign appears in this file: the HTML sanitizer Streamlit runs before executing a
// script removes any script whose text looks like it holds a tag.
(() => {
  const words = __WORDS__;
  const state = window.porteVoixWords || (window.porteVoixWords = { texts: new WeakMap(), attrs: new WeakMap() });
  state.words = words;
  document.documentElement.lang = words.lang;

  const units = { B: words.unit_b, KB: words.unit_kb, MB: words.unit_mb, GB: words.unit_gb, TB: words.unit_tb };
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key]);
  // "10.0" is written "10": the limit is a whole number of megabytes.
  const size = (number, unit) => number.replace(/\.0+$/, "").replace(".", words.decimal) + "\u00a0" + (units[unit] || unit);
  // A count of bytes in the largest unit that holds it, as Streamlit counts (1,024 to the
  // kilobyte on Windows, 1,000 elsewhere), so the limit reads as the dropzone writes it.
  const bytes = (count) => {
    const base = /^Win/i.test(navigator.platform) ? 1024 : 1000;
    let value = Number(count);
    let unit = 0;
    const names = ["B", "KB", "MB", "GB", "TB"];
    while (value >= base && unit + 1 !== names.length) {
      value /= base;
      unit += 1;
    }
    return size(String(Math.round(value * 10) / 10), names[unit]);
  };

  // Streamlit's English (the whole text of one node, spaces trimmed) -> ours.
  const TEXTS = [
    [/^Upload$/, () => words.upload],
    [/^Upload directories$/, () => words.upload_directories],
    [/^Drag and drop a file here$/, () => words.drop_file],
    [/^Drag and drop files here$/, () => words.drop_files],
    [/^Drag and drop directories here$/, () => words.drop_directories],
    [/^(\d+(?:\.\d+)?)(B|KB|MB|GB|TB) per file(.*)$/, (m) => fill(words.per_file, { size: size(m[1], m[2]) }) + m[3]],
    [/^(\d+(?:\.\d+)?)(B|KB|MB|GB|TB)$/, (m) => size(m[1], m[2])],  // a chosen file's size
    [/^Error:$/, () => words.error],
    [/^(.+) files are not allowed\.$/, (m) => fill(words.type_refused, { type: m[1] })],
    [/^File type not allowed\.$/, () => words.type_not_allowed],
    [/^File is too large\. Maximum size is (\d+) bytes\.$/, (m) => fill(words.too_large, { size: bytes(m[1]) })],
    [/^File must be (\d+(?:\.\d+)?)(B|KB|MB|GB|TB) or smaller\.$/, (m) => fill(words.too_large, { size: size(m[1], m[2]) })],
    [/^Only one file is allowed\.$/, () => words.only_one],
    [/^Unexpected error\. Please try again\.$/, () => words.unexpected],
    [/^Upload failed$/, () => words.upload_failed],
  ];
  const ATTRS = [
    [/^file upload$/, () => words.input_label],
    [/^Add files$/, () => words.add_files],
    [/^(.+), (\d+(?:\.\d+)?)(B|KB|MB|GB|TB)$/, (m) => m[1] + ", " + size(m[2], m[3])],
    [/^Remove (.+)$/, (m) => fill(words.remove_file, { name: m[1] })],
    [/^Cancel upload of (.+)$/, (m) => fill(words.cancel_upload, { name: m[1] })],
    [/^Click to retry upload$/, () => words.retry_upload],
  ];

  // The date and time fields: their buttons' labels, each part's name as screen readers announce
  // it (« année, Jour » for "year, Jour"), the month's name, and the calendar's help.
  const PARTS = { year: () => words.part_year, month: () => words.part_month, day: () => words.part_day,
    hour: () => words.part_hour, minute: () => words.part_minute, "AM/PM": () => words.part_day_period };
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December"];
  const DATE_TEXTS = [
    [/^Use arrow keys to navigate dates\. Enter to select\. Escape to close\.$/, () => words.calendar_help],
  ];
  const DATE_ATTRS = [
    [/^Choose date$/, () => words.choose_date],
    [/^Choose date range$/, () => words.choose_dates],
    [/^Clear date$/, () => words.clear_date],
    [/^Clear dates$/, () => words.clear_dates],
    [/^Clear time$/, () => words.clear_time],
    [/^Previous$/, () => words.previous_month],
    [/^Next$/, () => words.next_month],
    [/^(year|month|day|hour|minute|AM\/PM), (.+)$/, (m) => PARTS[m[1]]() + ", " + m[2]],
    [/^(\d+) – (January|February|March|April|May|June|July|August|September|October|November|December)$/,
      (m) => m[1] + " – " + words.months.split(",")[MONTHS.indexOf(m[2])]],
  ];

  const translated = (rules, english) => {
    const trimmed = english.trim();
    for (const [pattern, make] of rules) {
      const match = trimmed.match(pattern);
      if (match) return english.replace(trimmed, make(match));
    }
    return null;
  };
  // What one text or label becomes, or null when it is not Streamlit's (tests/dashboard/test_streamlit_words).
  state.rewrite = {
    text: (english) => translated(TEXTS, english), attr: (english) => translated(ATTRS, english),
    dateText: (english) => translated(DATE_TEXTS, english), dateAttr: (english) => translated(DATE_ATTRS, english),
  };

  const translateText = (node, rules = TEXTS) => {
    const seen = state.texts.get(node);
    const current = node.nodeValue;
    // Streamlit wrote something new into this node since: that is the English to translate.
    const english = seen && seen.shown === current ? seen.english : current;
    const shown = translated(rules, english);
    if (shown === null) return;
    state.texts.set(node, { english, shown });
    if (current !== shown) node.nodeValue = shown;
  };

  const translateAttr = (element, name, rules = ATTRS) => {
    const current = element.getAttribute(name);
    if (current === null) return;
    const remembered = state.attrs.get(element) || {};
    const seen = remembered[name];
    const english = seen && seen.shown === current ? seen.english : current;
    const shown = translated(rules, english);
    if (shown === null) return;
    remembered[name] = { english, shown };
    state.attrs.set(element, remembered);
    if (current !== shown) element.setAttribute(name, shown);
  };

  const translateAll = () => {
    const w = state.words;
    if (w !== words) return; // a newer run of this script (another language) took over
    document.documentElement.lang = w.lang;
    for (const uploader of document.querySelectorAll('[data-testid="stFileUploader"]')) {
      const walker = document.createTreeWalker(uploader, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        // the label is ours already, and a file's name is the person's own
        if (parent && parent.closest('[data-testid="stWidgetLabel"], [data-testid="stFileChipName"]')) continue;
        translateText(node);
      }
      for (const element of uploader.querySelectorAll("[aria-label], [title]")) {
        if (element.matches('[data-testid="stFileUploaderDropzone"]')) continue; // its label is ours
        translateAttr(element, "aria-label");
        translateAttr(element, "title");
      }
    }
    const dates = '[data-testid="stDateInput"], [data-testid="stDateInputCalendar"], [data-testid="stTimeInput"]';
    for (const field of document.querySelectorAll(dates)) {
      const walker = document.createTreeWalker(field, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) translateText(node, DATE_TEXTS);
      for (const element of field.querySelectorAll("[aria-label], [aria-valuetext], [title]")) {
        for (const name of ["aria-label", "aria-valuetext", "title"]) translateAttr(element, name, DATE_ATTRS);
      }
    }
  };

  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      translateAll();
    });
  };
  if (state.observer) state.observer.disconnect();
  state.observer = new MutationObserver(schedule);
  state.observer.observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-label", "aria-valuetext", "title"],
  });
  translateAll();

  // This element shows nothing: take it out of the page's layout.
  const here = document.currentScript && document.currentScript.closest('[data-testid="stElementContainer"]');
  if (here) here.style.display = "none";
})();

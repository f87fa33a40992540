// The system clipboard from the consoles: navigator.clipboard where the
// browser allows it (a secure context, a user gesture, and for reading the
// permission), else null so the console offers a text box instead.

// writeClipboard copies text; it returns whether it worked.
export async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Older paths: a selected textarea and the copy command.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

// readClipboard returns the clipboard's text, or null when the browser
// does not let the page read it.
export async function readClipboard() {
  try {
    if (!navigator.clipboard?.readText) return null;
    return await navigator.clipboard.readText();
  } catch {
    return null;
  }
}

// A Server-Sent Events parser for fetch() streams (EventSource cannot send
// the Authorization header). Feed it decoded text chunks as they come; it
// calls onEvent({id, event, data}) for each complete event. Comment lines
// (": heartbeat") are skipped. Follows the HTML spec's field rules.
export function sseParser(onEvent) {
  let buf = '';
  let data = [], event = '', id = null;
  const line = (l) => {
    if (l === '') {
      if (data.length) onEvent({ id, event: event || 'message', data: data.join('\n') });
      data = []; event = '';
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
  };
  return (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      let l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (l.endsWith('\r')) l = l.slice(0, -1);
      line(l);
    }
  };
}

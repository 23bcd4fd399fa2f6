/** Small helpers the demo CRM's pages share. */

/** The element with this id (the page's markup guarantees it). */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

/** One line of the page's live event log (newest first). */
export function log(name: string, detail = '', error = false): void {
  const li = document.createElement('li');
  if (error) li.className = 'err';
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  const text = document.createElement('span');
  text.textContent = detail;
  li.append(time, label, text);
  $('event-log').prepend(li);
}

/** The phone's call-state banner. */
export function showCallState(id: string, text: string, kind: 'idle' | 'ringing' | 'active'): void {
  const el = $(id);
  el.textContent = text;
  el.className = `call-state ${kind}`;
}

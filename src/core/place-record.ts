/**
 * The one shape of the place a service's work ran in, `{ kind, where, reason }`
 * (StrategyOffer.place, PlanItem.place, a manifest's details.place), and how
 * older manifests are still read: a phrase string (MySQL, MongoDB), a `why`
 * key instead of `reason` (PostgreSQL), only `toolsRanIn: "container X"`, or
 * for a volume copy only its `transport`.
 */
import type { OfferPlace } from './driver.js';

const KINDS = new Set(['host', 'container', 'sidecar']);

/** This host, with why: a service reached by its URL, a tool found here. */
export function hostPlaceRecord(reason = 'reached by its URL'): OfferPlace {
  return { kind: 'host', where: 'on this host', reason };
}

/** `where: reason`, the one phrase plan tables and `show` print. */
export function placeLine(place: OfferPlace): string {
  return place.reason ? `${place.where}: ${place.reason}` : place.where;
}

/** The place a manifest recorded (details), in the one shape, whatever form it was written in; undefined when none was. */
export function recordedPlace(details: Record<string, unknown>): OfferPlace | undefined {
  const p = details.place;
  if (typeof p === 'string' && p !== '') return fromPhrase(p);
  if (p && typeof p === 'object') {
    const o = p as { kind?: unknown; where?: unknown; reason?: unknown; why?: unknown };
    if (typeof o.where === 'string') {
      const reason = typeof o.reason === 'string' ? o.reason : typeof o.why === 'string' ? o.why : '';
      const kind = typeof o.kind === 'string' && KINDS.has(o.kind) ? (o.kind as OfferPlace['kind']) : fromPhrase(o.where).kind;
      return { kind, where: o.where, reason };
    }
  }
  const ran = details.toolsRanIn;
  if (typeof ran === 'string' && ran.startsWith('container ')) return { kind: 'container', where: `inside ${ran}`, reason: '' };
  // A volume copy before it recorded a place: its transport says where tar ran (this machine's, or a helper's).
  const tar = details.tar as { image?: unknown } | undefined;
  if (details.transport === 'local') return { kind: 'host', where: 'on this host', reason: '' };
  if ((details.transport === 'fifo' || details.transport === 'exec-stream') && typeof tar?.image === 'string') return { kind: 'sidecar', where: `in a helper container of ${tar.image}`, reason: '' };
  return undefined;
}

// Older phrases: "inside container X", "inside container X: its image has mongodump 100.9.5", "on this host",
// "on this host, through a tunnel to container X", "mongodump not in image I: host mongodump 100.9 through a sidecar ...".
function fromPhrase(text: string): OfferPlace {
  const at = text.indexOf(': ');
  const head = at < 0 ? text : text.slice(0, at);
  const kind = /^(inside|in) container /.test(head) ? 'container' : /^in a sidecar/.test(head) ? 'sidecar' : 'host';
  const known = /^(inside container |in container |in a sidecar|on this host)/.test(head);
  return known && at >= 0 ? { kind, where: head, reason: text.slice(at + 2) } : { kind, where: text, reason: '' };
}

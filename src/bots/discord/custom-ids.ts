// Component custom ids carry an action and an opaque id (a job id or a suggestion id) that the
// handlers look up; nothing else in them is trusted.
export type ComponentAction = 'cancel' | 'reroll' | 'longer' | 'use-prompt' | 'edit-prompt' | 'prompt-modal';

const PREFIX = 'rv';
const ACTIONS: readonly ComponentAction[] = ['cancel', 'reroll', 'longer', 'use-prompt', 'edit-prompt', 'prompt-modal'];
/** Ids we mint are UUIDs or short tokens; anything else is rejected before any lookup. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function encodeCustomId(action: ComponentAction, id: string): string {
  return `${PREFIX}:${action}:${id}`;
}

export function decodeCustomId(customId: string): { action: ComponentAction; id: string } | undefined {
  const [prefix, action, id, ...rest] = customId.split(':');
  if (prefix !== PREFIX || rest.length > 0 || id === undefined || !SAFE_ID.test(id)) return undefined;
  if (!(ACTIONS as readonly string[]).includes(action ?? '')) return undefined;
  return { action: action as ComponentAction, id };
}

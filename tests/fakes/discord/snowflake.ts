// Snowflake-shaped ids (19 digits) so discord.js and @discordjs/rest treat them like real ones
// (the REST router only recognises 17–19 digit ids as major parameters).
let counter = 0n;
const BASE = 1_300_000_000_000_000_000n;

export function snowflake(): string {
  counter += 1n;
  return (BASE + counter * 4_194_304n).toString();
}

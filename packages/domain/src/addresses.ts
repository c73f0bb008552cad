/**
 * A client address is personal data: where an admin screen or a viewer may see one, they see
 * its network only — IPv4 to /16 (`198.51.x.x`), IPv6 to /48 (`2001:db8:85a3:…`). Anything that
 * is not an address reads `(address)`. Pure string work: the admin page's bundle uses it too.
 */
export function clientNetwork(address: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/i.exec(address);
  if (v4) return `${v4[1]}.${v4[2]}.x.x`;
  const groups = ipv6Groups(address);
  return groups ? `${groups.slice(0, 3).join(":")}:…` : "(address)";
}

/** The eight groups of an IPv6 address (`::` expanded, leading zeros dropped), or null. */
function ipv6Groups(address: string): string[] | null {
  const halves = address.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const [head = "", tail = ""] = halves;
  const part = (text: string) => (text === "" ? [] : text.split(":"));
  const front = part(head);
  const back = part(tail);
  const missing = 8 - front.length - back.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...front, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...back];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return groups.map((group) => group.replace(/^0+(?=.)/, ""));
}

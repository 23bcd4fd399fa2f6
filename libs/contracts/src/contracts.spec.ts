import { CommandNames, EventTypes, isCommandName, isDeviceType, isErrorCode } from './index.js';

describe('contracts', () => {
  it('names every command once', () => {
    expect(new Set(CommandNames).size).toBe(CommandNames.length);
    expect(isCommandName('voice.enable')).toBe(true);
    expect(isCommandName('voice.steal')).toBe(false);
  });
  it('names every event once', () => {
    expect(new Set(EventTypes).size).toBe(EventTypes.length);
  });
  it('recognises device types 1 to 4 only', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 8, '1'].map(isDeviceType)).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
      true,
      false,
      false,
    ]);
  });
  it('recognises the 3C callout codes', () => {
    expect(isErrorCode('IPCC_NOT_CONNECT_CUSTOMER')).toBe(true);
    expect(isErrorCode('NOPE')).toBe(false);
  });
});

// Unit tests need nothing running and finish in milliseconds to seconds: a unit test still waiting after
// this long is stuck, and says so instead of holding the run for the integration tests' two minutes.
jest.setTimeout(20_000);

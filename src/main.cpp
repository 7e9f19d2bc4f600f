// boshgate entry point: parse flags, load config, run the gateway.
int main() { return 0; }

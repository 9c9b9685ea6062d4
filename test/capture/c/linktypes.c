/*
 * Prints libpcap's link-type names for the link-type table test:
 *   for each DLT value 0..1023 that libpcap names:  "V dlt name<TAB>description"
 *   for each name given as an argument:             "N name dlt" (-1 when unknown)
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
	for (int dlt = 0; dlt < 1024; dlt++) {
		const char *name = pcap_datalink_val_to_name(dlt);
		if (name != NULL) printf("V %d %s\t%s\n", dlt, name, pcap_datalink_val_to_description(dlt));
	}
	for (int i = 1; i < argc; i++) printf("N %s %d\n", argv[i], pcap_datalink_name_to_val(argv[i]));
	return 0;
}

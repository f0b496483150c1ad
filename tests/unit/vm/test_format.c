/* Float formatting (Python's repr) and value printing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "vm/vm.h"

static void check_float(double d, const char *want)
{
	char buf[64];
	format_float(buf, sizeof buf, d);
	cr_assert_str_eq(buf, want, "%.17g formatted as %s, want %s", d, buf, want);
}

Test(format, float_repr)
{
	check_float(1.0, "1.0");
	check_float(0.1, "0.1");
	check_float(0.1 + 0.2, "0.30000000000000004");
	check_float(1e20, "1e+20");
	check_float(1e16, "1e+16");
	check_float(1e15, "1000000000000000.0");
	check_float(123456789.0, "123456789.0");
	check_float(1e-4, "0.0001");
	check_float(1e-5, "1e-05");
	check_float(-0.0, "-0.0");
	check_float(-2.5, "-2.5");
	check_float(INFINITY, "inf");
	check_float(-INFINITY, "-inf");
	check_float(NAN, "nan");
	check_float(5e-324, "5e-324");
	check_float(1.7976931348623157e308, "1.7976931348623157e+308");
	check_float(1.0 / 3.0, "0.3333333333333333");
	check_float(2.5e-3, "0.0025");
	check_float(1e100, "1e+100");
}

Test(format, floats_round_trip)
{
	/* every formatted value reads back to the same double */
	double vals[] = {0.1, 2.0 / 3.0, 1e300 / 7.0, 123.456, 9007199254740993.0, 6.02214076e23, 1e-310};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char buf[64];
		format_float(buf, sizeof buf, vals[i]);
		cr_assert_eq(strtod(buf, NULL), vals[i], "%s", buf);
	}
}

Test(format, print_values)
{
	Capture c;
	GaleVM *vm = cap_vm(&c, NULL);
	cr_assert_not_null(vm);
	cr_assert_eq(run(vm, "print([1, \"a\\n\", nil, 2.0], {\"k\": [true]}, \"top\")"), GALE_OK, "%s", c.err);
	cr_assert_str_eq(c.out, "[1, \"a\\n\", nil, 2.0] {\"k\": [true]} top\n");
	cap_reset(&c);
	cr_assert_eq(run(vm, "let l = [1]\nl.push(l)\nlet m = {}\nm[1] = m\nprint(l, m)"), GALE_OK);
	cr_assert_str_eq(c.out, "[1, [...]] {1: {...}}\n");
	gale_free(vm);
}

package usecase_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sealkeeper/sealkeeper/app/usecase"
)

func TestFilterQueue(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	items := []usecase.QueueItem{
		{ID: "D1", Title: "关于采购的通知", Department: "办公室", Requester: "陈静", Approvers: []string{"王主任"}, Expires: t0.Add(3 * time.Hour)},
		{ID: "D2", Title: "Contract B", Department: "Legal", Requester: "Li Na", Approvers: []string{"Zhao"}, Expires: t0.Add(time.Hour)},
		{ID: "D3", Title: "Annual report", Department: "Finance", Requester: "Li Na", Expires: t0.Add(2 * time.Hour)},
	}
	ids := func(its []usecase.QueueItem) []string {
		var out []string
		for _, it := range its {
			out = append(out, it.ID)
		}
		return out
	}
	for _, c := range []struct {
		text, order string
		want        []string
	}{
		{"", usecase.OrderApproved, []string{"D1", "D2", "D3"}},
		{"", usecase.OrderDeadline, []string{"D2", "D3", "D1"}},
		{"", usecase.OrderTitle, []string{"D3", "D2", "D1"}},
		{"", usecase.OrderDepartment, []string{"D3", "D2", "D1"}},
		{"li na", usecase.OrderApproved, []string{"D2", "D3"}},
		{"LI report", usecase.OrderApproved, []string{"D3"}},
		{"王主任", usecase.OrderApproved, []string{"D1"}},
		{"d2", usecase.OrderApproved, []string{"D2"}},
		{"nobody", usecase.OrderApproved, nil},
	} {
		if got := ids(usecase.FilterQueue(items, c.text, c.order)); !slices.Equal(got, c.want) {
			t.Errorf("FilterQueue(%q, %s) = %v, want %v", c.text, c.order, got, c.want)
		}
	}
	if items[0].ID != "D1" {
		t.Error("FilterQueue changed its input")
	}
}

import { OrderList } from "@/components/Orders";

export const metadata = { title: "Orders · Demo shop" };

export default function OrdersPage() {
  return <OrderList />;
}

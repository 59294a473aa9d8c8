import { OrderDetail } from "@/components/Orders";

export const metadata = { title: "Order · Demo shop" };

export default async function OrderPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <OrderDetail id={id} />;
}
